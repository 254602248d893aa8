"""The image built from our Dockerfile, served for real with ``docker run``, configured the way
DataRobot configures it: environment variables only, no command-line arguments."""

import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from drum_helpers import CUSTOM_PY
from helpers import ROOT, assert_probabilities, csv_bytes, predictions
from models import classifier, features, regressor, sklearn_onnx, write_model

pytestmark = pytest.mark.container

EXAMPLE_MODEL = ROOT / "example" / "model" / "model.onnx"


def model_folder(path: Path, model: bytes, custom_py: str = "") -> Path:
    """A folder the container's non-root user can read (pytest's tmp dirs are private to root)."""
    write_model(path, model)
    if custom_py:
        (path / "custom.py").write_text(custom_py)
    path.chmod(0o755)
    for child in path.iterdir():
        child.chmod(0o644)
    return path


def post_csv(url: str, frame: pd.DataFrame) -> requests.Response:
    return requests.post(url, data=csv_bytes(frame), headers={"Content-Type": "text/csv"}, timeout=60)


CASES = {
    "binary": (("no", "yes"), {"TARGET_TYPE": "binary", "POSITIVE_CLASS_LABEL": "no", "NEGATIVE_CLASS_LABEL": "yes"}),
    "multiclass": (("ant", "cat", "dog"), {"TARGET_TYPE": "multiclass", "CLASS_LABELS": "dog ant cat"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_artifact_only_folder_mounted_read_only_is_served_through_our_hooks_csv_and_json(tmp_path, container, case):
    labels, env = CASES[case]
    model, train = classifier(labels)
    folder = model_folder(tmp_path / "model", sklearn_onnx(model, train))
    served = container(env, [f"{folder}:/opt/code:ro"]).run()
    startup = served.wait_ready()
    info = requests.get(served.url + "/info/", timeout=10).json()
    assert info["targetType"] == case and info["codeDir"] == "/opt/dr_onnx/default_code"
    rows = features(25)
    got = predictions(post_csv(served.url + "/predict/", rows))
    sent = env.get("CLASS_LABELS", "").split() or [env["NEGATIVE_CLASS_LABEL"], env["POSITIVE_CLASS_LABEL"]]
    assert_probabilities(got, model, rows, sent)
    as_json = requests.post(served.url + "/predict/", data=rows.to_json(orient="records"),
                            headers={"Content-Type": "application/json"}, timeout=60)
    assert_probabilities(predictions(as_json), model, rows, sent)
    print(f"\n{case}: container start to first good prediction {startup:.1f} s")


def test_regression_with_labels_file_free_environment(tmp_path, container):
    model, train = regressor()
    folder = model_folder(tmp_path / "model", sklearn_onnx(model, train))
    served = container({"TARGET_TYPE": "regression"}, [f"{folder}:/opt/code:ro"]).run()
    served.wait_ready()
    rows = features(30)
    response = post_csv(served.url + "/predict/", rows)
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["predictions"], model.predict(rows.to_numpy(np.float32)),
                               rtol=1e-4, atol=1e-3)


def test_files_copied_into_code_dir_like_datarobot_with_url_prefix(tmp_path, container):
    model, train = classifier(("0", "1"), kind="rf")
    folder = model_folder(tmp_path / "model", sklearn_onnx(model, train, zipmap=False))
    served = container({"TARGET_TYPE": "binary", "POSITIVE_CLASS_LABEL": "1", "NEGATIVE_CLASS_LABEL": "0",
                        "URL_PREFIX": "/deploy/abc"}).create()
    served.docker_cmd("cp", str(folder / "model.onnx"), f"{served.name}:/opt/code/model.onnx")
    served.start()
    served.wait_ready("/deploy/abc/ping/")
    assert requests.get(served.url + "/info/", timeout=10).status_code == 404
    info = requests.get(served.url + "/deploy/abc/info/", timeout=10).json()
    assert info["positiveClassLabel"] == "1" and info["negativeClassLabel"] == "0"
    rows = features(20)
    got = predictions(post_csv(served.url + "/deploy/abc/predict/", rows))
    assert_probabilities(got, model, rows, ("0", "1"))


def test_model_folder_with_its_own_custom_py_takes_precedence(tmp_path, container):
    model, train = classifier(("no", "yes"))
    custom = CUSTOM_PY + "\n\ndef transform(data, model):\n    return data.drop(columns=['customer_id'])\n"
    folder = model_folder(tmp_path / "model", sklearn_onnx(model, train), custom_py=custom)
    served = container({"TARGET_TYPE": "binary", "POSITIVE_CLASS_LABEL": "yes", "NEGATIVE_CLASS_LABEL": "no"},
                       [f"{folder}:/opt/code:ro"]).run()
    served.wait_ready()
    assert requests.get(served.url + "/info/", timeout=10).json()["codeDir"] == "/opt/code"
    rows = features(15)
    got = predictions(post_csv(served.url + "/predict/", rows.assign(customer_id=range(15))))
    assert_probabilities(got, model, rows, ("no", "yes"))


def test_bad_request_is_a_422_and_the_container_keeps_serving(tmp_path, container):
    model, train = classifier(("no", "yes"))
    folder = model_folder(tmp_path / "model", sklearn_onnx(model, train))
    served = container({"TARGET_TYPE": "binary", "POSITIVE_CLASS_LABEL": "yes", "NEGATIVE_CLASS_LABEL": "no"},
                       [f"{folder}:/opt/code:ro"]).run()
    served.wait_ready()
    bad = post_csv(served.url + "/predict/", features(3, n_features=5))
    assert bad.status_code == 422 and "expects 4 column(s) per row, received 5" in bad.json()["message"]
    rows = features(5)
    assert_probabilities(predictions(post_csv(served.url + "/predict/", rows)), model, rows, ("no", "yes"))


def test_model_that_fails_to_load_answers_513_with_the_reason_under_the_error_server(tmp_path, container):
    folder = model_folder(tmp_path / "model", b"\x08\x01 definitely not onnx")
    served = container({"TARGET_TYPE": "regression", "WITH_ERROR_SERVER": "1"}, [f"{folder}:/opt/code:ro"]).run()
    response = None
    deadline = time.monotonic() + 90
    while response is None and time.monotonic() < deadline:
        try:
            response = requests.post(served.url + "/predict/", data=b"a\n1\n", headers={"Content-Type": "text/csv"},
                                     timeout=2)
        except requests.RequestException:
            time.sleep(0.25)
    assert response is not None, f"error server never answered:\n{served.logs()[-3000:]}"
    assert response.status_code == 513 and "model.onnx" in response.json()["message"]
    assert requests.get(served.url + "/health/", timeout=5).status_code == 513


def test_model_that_fails_to_load_makes_the_container_exit_with_the_reason(tmp_path, container):
    folder = tmp_path / "empty"
    folder.mkdir(mode=0o755)
    (folder / "readme.txt").write_text("no model here")
    (folder / "readme.txt").chmod(0o644)
    served = container({"TARGET_TYPE": "regression"}, [f"{folder}:/opt/code:ro"]).run()
    assert served.wait_exit() != 0
    assert "No .onnx file found" in served.logs() and "readme.txt" in served.logs()


def test_runs_as_non_root_healthy_and_prints_no_environment_unless_asked(tmp_path, container):
    model, train = regressor()
    folder = model_folder(tmp_path / "model", sklearn_onnx(model, train))
    secret = "s3cr3t-value-never-logged"
    quiet = container({"TARGET_TYPE": "regression", "API_TOKEN": secret}, [f"{folder}:/opt/code:ro"]).run()
    dumping = container({"TARGET_TYPE": "regression", "API_TOKEN": secret, "ENABLE_CUSTOM_MODEL_RUNTIME_ENV_DUMP": "1"},
                        [f"{folder}:/opt/code:ro"]).run()
    quiet.wait_ready()
    dumping.wait_ready()
    assert quiet.docker_cmd("exec", quiet.name, "id", "-u").stdout.strip() == "10001"
    privileged = quiet.docker_cmd("exec", quiet.name, "find", "/", "-xdev", "-type", "f", "-perm", "/6000", check=False)
    assert privileged.stdout.strip() == "", f"set-user/group-ID programs left: {privileged.stdout}"
    assert "TARGET_TYPE" not in quiet.logs() and secret not in quiet.logs()
    assert "API_TOKEN='*****'" in dumping.logs() and "TARGET_TYPE='regression'" in dumping.logs()
    assert secret not in dumping.logs()
    deadline = time.monotonic() + 60
    health = "starting"
    while health == "starting" and time.monotonic() < deadline:
        time.sleep(0.5)
        health = quiet.docker_cmd("inspect", "-f", "{{.State.Health.Status}}", quiet.name).stdout.strip()
    assert health == "healthy"


def test_inspect_console_script_runs_in_the_image_on_the_example_model(tmp_path, docker, image):
    folder = model_folder(tmp_path / "model", EXAMPLE_MODEL.read_bytes())
    command = [docker, "run", "--rm", "--entrypoint", "dr-onnx-inspect", "-v", f"{folder}:/opt/code:ro", image,
               "/opt/code/model.onnx", "--target-type", "binary"]
    text = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "class labels in the graph: versicolor, virginica" in text.stdout
    as_json = subprocess.run(command + ["--json"], capture_output=True, text=True, timeout=120)
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["servable"] is True and report["class_labels"] == ["versicolor", "virginica"]
    assert report["targets"]["binary"]["output"] == "output_probability"
