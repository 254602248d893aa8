"""A real ``drum server`` (DRUM's default server type: gunicorn in 1.18.1) over HTTP.

Four server starts, each module-scoped and shared by several tests: binary, multiclass, regression,
and the artifact-only layout the Docker image uses (``DR_ONNX_MODEL_DIR`` names the folder with
``model.onnx``; ``--code-dir`` holds only the one-line ``custom.py``).
"""

import numpy as np
import pytest

from drum_helpers import label_args, serve, write_code_dir
from helpers import assert_probabilities, predictions
from models import classifier, regressor, sklearn_onnx, write_model

pytestmark = pytest.mark.drum


# --- binary --------------------------------------------------------------------------------------

BINARY_POSITIVE, BINARY_NEGATIVE = "yes", "no"


@pytest.fixture(scope="module")
def binary(request, tmp_path_factory):
    model, frame = classifier(["no", "yes"])
    folder = write_code_dir(tmp_path_factory.mktemp("binary") / "model", sklearn_onnx(model, frame, zipmap=True))
    server = serve(request, folder, "binary", label_args(BINARY_POSITIVE, BINARY_NEGATIVE))
    return server, model, frame


def test_binary_ping(binary):
    server, _, _ = binary
    response = server.get("/ping/")
    assert response.status_code == 200


def test_binary_info_echoes_target_and_labels(binary):
    server, _, _ = binary
    info = server.get("/info/").json()
    assert info["targetType"] == "binary"
    assert info["positiveClassLabel"] == BINARY_POSITIVE
    assert info["negativeClassLabel"] == BINARY_NEGATIVE


def test_binary_load_is_logged_in_one_line(binary):
    server, _, _ = binary
    (line,) = [x for x in server.log_tail(400).splitlines() if "dr_onnx_hooks loaded" in x]
    assert "model.onnx: inputs [X tensor(float) [None, 4]]" in line
    assert "class: output_probability (name contains 'prob'; ZipMap read from 'probabilities')" in line
    assert "graph labels ['no', 'yes']" in line and "CPUExecutionProvider" in line


def test_binary_predictions_are_named_by_class(binary):
    server, model, frame = binary
    rows = frame.head(25)
    assert_probabilities(predictions(server.predict_csv(rows)), model, rows, ["no", "yes"])


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (lambda rows: rows.assign(extra=1.0), ("expects 4 column", "received 5")),
        (lambda rows: rows.iloc[:, :3], ("expects 4 column", "received 3")),
        (lambda rows: rows.astype({"f2": object}).assign(f2=["oops"] + list(rows["f2"].iloc[1:])),
         ("'f2'", "text of 4 characters at row 1", "not a number")),
    ],
    ids=["extra-column", "missing-column", "text-in-numeric-column"],
)
def test_bad_request_is_422_and_server_keeps_serving(binary, bad, pattern):
    server, model, frame = binary
    rows = frame.iloc[10:16].reset_index(drop=True)
    response = server.predict_csv(bad(rows))
    assert response.status_code == 422, f"{response.status_code}: {response.text}"
    assert response.headers.get("X-Drum-User-Http-Error") == "true"
    message = response.json()["message"]
    for part in pattern:
        assert part in message, message
    assert server.alive()
    assert_probabilities(predictions(server.predict_csv(rows)), model, rows, ["no", "yes"])


# --- multiclass ----------------------------------------------------------------------------------

MULTICLASS_SENT = ["dog", "ant", "cat"]  # the model's classes_ are ant, cat, dog


@pytest.fixture(scope="module")
def multiclass(request, tmp_path_factory):
    model, frame = classifier(["ant", "cat", "dog"])
    assert list(model.classes_) != MULTICLASS_SENT
    folder = write_code_dir(tmp_path_factory.mktemp("multiclass") / "model", sklearn_onnx(model, frame, zipmap=True))
    server = serve(request, folder, "multiclass", label_args(class_labels=MULTICLASS_SENT))
    return server, model, frame


def test_multiclass_info_echoes_labels(multiclass):
    server, _, _ = multiclass
    info = server.get("/info/").json()
    assert info["targetType"] == "multiclass"
    assert info["classLabels"] == MULTICLASS_SENT


@pytest.mark.parametrize("multipart", [False, True], ids=["text-csv-body", "multipart-X"])
def test_multiclass_predictions_are_named_by_class(multiclass, multipart):
    server, model, frame = multiclass
    rows = frame.iloc[30:60]
    assert_probabilities(predictions(server.predict_csv(rows, multipart=multipart)), model, rows, MULTICLASS_SENT)


# --- regression ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def regression(request, tmp_path_factory):
    model, frame = regressor()
    folder = write_code_dir(tmp_path_factory.mktemp("regression") / "model", sklearn_onnx(model, frame))
    server = serve(request, folder, "regression", [])
    return server, model, frame


def test_regression_predictions_match_sklearn(regression):
    server, model, frame = regression
    rows = frame.head(50)
    got = predictions(server.predict_csv(rows))["Predictions"]
    assert server.get("/info/").json()["targetType"] == "regression"
    np.testing.assert_allclose(got, model.predict(rows.to_numpy(np.float32)), rtol=1e-4, atol=1e-4)


def test_regression_text_value_is_422_then_good_request_succeeds(regression):
    server, model, frame = regression
    rows = frame.head(4)
    bad = rows.astype({"f0": object})
    bad.iloc[1, 0] = "abc"
    response = server.predict_csv(bad)
    assert response.status_code == 422, f"{response.status_code}: {response.text}"
    message = response.json()["message"]
    assert "'f0'" in message and "row 2" in message, message
    np.testing.assert_allclose(
        predictions(server.predict_csv(rows))["Predictions"], model.predict(rows.to_numpy(np.float32)),
        rtol=1e-4, atol=1e-4,
    )


# --- artifact-only layout (DR_ONNX_MODEL_DIR), as the Docker image serves it ---------------------

@pytest.fixture(scope="module")
def artifact_only(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("artifact_only")
    model, frame = classifier(["no", "yes"], seed=3)
    model_dir = write_model(root / "artifact", sklearn_onnx(model, frame, zipmap=False))
    code_dir = write_code_dir(root / "code")
    assert sorted(p.name for p in code_dir.iterdir()) == ["custom.py"]
    assert sorted(p.name for p in model_dir.iterdir()) == ["model.onnx"]
    server = serve(request, code_dir, "binary", label_args("no", "yes"), env={"DR_ONNX_MODEL_DIR": str(model_dir)})
    return server, model, frame, code_dir


def test_artifact_only_folder_is_served_through_model_dir_setting(artifact_only):
    server, model, frame, code_dir = artifact_only
    info = server.get("/info/").json()
    assert info["codeDir"] == str(code_dir)
    assert (info["positiveClassLabel"], info["negativeClassLabel"]) == ("no", "yes")
    rows = frame.head(30)
    assert_probabilities(predictions(server.predict_csv(rows)), model, rows, ["no", "yes"])
