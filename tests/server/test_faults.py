"""Faults of the model folder and of the server process, against a real ``drum server``."""

import os
import signal
import time

import numpy as np
import pandas as pd
import psutil
import pytest
import requests
from onnx import TensorProto, helper

from drum_helpers import DrumServer, label_args, write_code_dir
from helpers import ATOL, csv_bytes, sklearn_proba
from models import classifier, features, sklearn_onnx, softmax_graph

pytestmark = pytest.mark.drum

ERROR_SERVER = {"WITH_ERROR_SERVER": "1", "TARGET_TYPE": "binary"}
LABELS = label_args("yes", "no")


def label_only_graph() -> bytes:
    """A valid graph whose only output is a predicted label: nothing to read probabilities from."""
    graph = helper.make_graph(
        [helper.make_node("ArgMax", ["X"], ["label"], axis=1, keepdims=0)], "labels",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


FAULTS = {
    "missing artifact": ({}, "No .onnx file found"),
    "two artifacts": ({"a.onnx": softmax_graph(), "b.onnx": softmax_graph()}, "Found 2 .onnx files"),
    "truncated model": ({"model.onnx": softmax_graph()[:60]}, "model.onnx"),
    "no usable output": ({"model.onnx": label_only_graph()}, "No output can hold class probabilities"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_load_fault_answers_513_with_the_reason_under_the_error_server(tmp_path, fault):
    files, reason = FAULTS[fault]
    folder = write_code_dir(tmp_path / "model")
    for name, content in files.items():
        (folder / name).write_bytes(content)
    server = DrumServer(folder, "binary", LABELS, env=ERROR_SERVER).start(ready=(513,))
    try:
        response = server.predict_csv(features(2))
        assert response.status_code == 513
        assert reason in response.json()["message"]
        assert server.get("/health/").status_code == 513
    finally:
        server.stop()


def test_load_fault_without_error_server_exits_non_zero_with_the_reason(tmp_path):
    folder = write_code_dir(tmp_path / "model")
    server = DrumServer(folder, "binary", LABELS)
    with pytest.raises(RuntimeError, match=r"exited with [1-9]") as caught:
        server.start(timeout=60)
    assert "No .onnx file found" in str(caught.value) or "No .onnx file found" in server.log_tail(400)


def sqrt_graph() -> bytes:
    """Two "probabilities" per row, the square roots of the two values sent: NaN for a negative one."""
    graph = helper.make_graph(
        [helper.make_node("Sqrt", ["X"], ["y"])], "sqrt",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_nan_output_is_a_500_naming_the_output_and_the_server_keeps_serving(tmp_path):
    folder = write_code_dir(tmp_path / "model", sqrt_graph())
    with DrumServer(folder, "binary", LABELS) as server:
        bad = server.predict_csv(pd.DataFrame({"a": [0.25, -1.0], "b": [0.25, 0.25]}))
        assert bad.status_code == 500
        assert "Output 'y' does not hold probabilities: it contains NaN" in bad.json()["message"]
        missing = server.predict_csv(pd.DataFrame({"a": [np.nan], "b": [0.25]}))
        assert missing.status_code == 422
        assert "Row 1 has missing or infinite values in a" in missing.json()["message"]
        good = server.predict_csv(pd.DataFrame({"a": [0.0625], "b": [0.5625]}))
        assert good.status_code == 200 and good.json()["predictions"] == [{"no": 0.25, "yes": 0.75}]


def _predict_ok(server: DrumServer, rows: pd.DataFrame, model) -> bool:
    try:
        response = server.post(csv_bytes(rows), timeout=10)
    except requests.RequestException:
        return False
    if response.status_code != 200:
        return False
    got = pd.DataFrame(response.json()["predictions"])
    np.testing.assert_allclose(got["yes"], sklearn_proba(model, rows)["yes"], atol=ATOL)
    return True


def test_killed_worker_is_replaced_and_sigterm_shuts_down_cleanly(tmp_path):
    model, train = classifier(("no", "yes"))
    folder = write_code_dir(tmp_path / "model", sklearn_onnx(model, train))
    rows = features(10)
    server = DrumServer(folder, "binary", LABELS).start()
    try:
        master = psutil.Process(server.process.pid)
        assert _predict_ok(server, rows, model)
        (worker,) = master.children()
        os.kill(worker.pid, signal.SIGKILL)
        killed = time.monotonic()
        while not _predict_ok(server, rows, model):
            assert time.monotonic() - killed < 60, f"no recovery after a worker kill:\n{server.log_tail()}"
            time.sleep(0.1)
        recovered = time.monotonic() - killed
        (replacement,) = master.children()
        assert replacement.pid != worker.pid
        print(f"\nworker SIGKILL: predictions again after {recovered:.1f} s")

        stopping = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
        print(f"SIGTERM: master exited 0 after {time.monotonic() - stopping:.1f} s")
        assert not replacement.is_running() or replacement.status() == psutil.STATUS_ZOMBIE
    finally:
        server.stop()
