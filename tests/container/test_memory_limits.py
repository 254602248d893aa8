"""Request limits fit the container's memory: under `docker run --memory 1g` with two workers, the
largest request the limits accept is scored, one row more is a 413 naming the setting, no worker is
OOM-killed or restarted, and a good request right after is answered correctly."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import requests
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

from helpers import ATOL, csv_bytes, sklearn_proba
from models import OPSET

pytestmark = pytest.mark.container

COLUMNS = 49


def test_the_largest_accepted_request_fits_in_1g_with_two_workers(tmp_path, container):
    rng = np.random.RandomState(0)
    train = pd.DataFrame(rng.normal(size=(500, COLUMNS)).astype(np.float32), columns=[f"c{i}" for i in range(COLUMNS)])
    model = LogisticRegression().fit(train.to_numpy(), np.where(train["c0"] > 0, "yes", "no"))
    folder = tmp_path / "model"
    folder.mkdir(mode=0o755)
    (folder / "model.onnx").write_bytes(to_onnx(
        model, train.to_numpy()[:1], options={id(model): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 3},
    ).SerializeToString())
    (folder / "model.onnx").chmod(0o644)
    env = {
        "TARGET_TYPE": "binary", "POSITIVE_CLASS_LABEL": "yes", "NEGATIVE_CLASS_LABEL": "no",
        "MLOPS_RUNTIME_PARAM_CUSTOM_MODEL_WORKERS": json.dumps({"type": "numeric", "payload": 2}),
    }
    running = container(env, [f"{folder}:/opt/code:ro"])
    running.args = running.args[:-1] + ["--memory", "1g", "--memory-swap", "1g"] + running.args[-1:]
    running.run()
    running.wait_ready(timeout=120)
    cells = int(re.search(r"limits \d+ columns, \d+ rows, (\d+) cells \((\d+) bytes from", running.logs()).group(1))
    assert 1_000_000 < cells < 50_000_000  # fitted to the memory, not the fixed default
    rows = cells // COLUMNS
    largest = pd.DataFrame(rng.normal(size=(rows, COLUMNS)).round(6), columns=train.columns)
    answer = requests.post(running.url + "/predict/", data=csv_bytes(largest), headers={"Content-Type": "text/csv"},
                           timeout=300)
    assert answer.status_code == 200, answer.text[:500]
    got = pd.DataFrame(answer.json()["predictions"]).iloc[:1000]
    expected = sklearn_proba(model, largest.iloc[:1000].astype(np.float32))
    for label in ("no", "yes"):
        np.testing.assert_allclose(got[label], expected[label], atol=ATOL)
    del answer, got
    over = pd.concat([largest, largest.iloc[:1]], ignore_index=True)
    refused = requests.post(running.url + "/predict/", data=csv_bytes(over), headers={"Content-Type": "text/csv"},
                            timeout=300)
    assert refused.status_code == 413 and "DR_ONNX_MAX_CELLS" in refused.json()["message"], refused.text[:500]
    small = largest.iloc[:5]
    good = requests.post(running.url + "/predict/", data=csv_bytes(small), headers={"Content-Type": "text/csv"},
                         timeout=60)
    assert good.status_code == 200
    np.testing.assert_allclose(pd.DataFrame(good.json()["predictions"])["yes"],
                               sklearn_proba(model, small.astype(np.float32))["yes"], atol=ATOL)
    state = json.loads(running.docker_cmd("inspect", "-f", "{{json .State}}", running.name).stdout)
    assert state["OOMKilled"] is False and state["Running"] is True
    logs = running.logs()
    assert logs.count("Booting worker") == 2, logs[-3000:]  # no worker was replaced
