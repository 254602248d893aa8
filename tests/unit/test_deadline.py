"""A slow model is bounded: a request's runs stop at DR_ONNX_RUN_TIMEOUT with a 503 naming the
setting (the worker lives on), and the warm-up at DR_ONNX_WARMUP_TIMEOUT with a warning."""

import logging
import time

import numpy as np
import pandas as pd
import pytest

from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.deadline import time_limit, timed_out
from dr_onnx_hooks.errors import DrOnnxError
from models import slow_graph, write_model

LABELS = dict(target_type="binary", positive_class_label="yes", negative_class_label="no")


def test_a_run_past_the_limit_is_a_503_naming_the_setting_and_the_next_one_is_served(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_ONNX_RUN_TIMEOUT", "1")
    plan = load_model(str(write_model(tmp_path, slow_graph())))
    start = time.monotonic()
    message = r"did not finish scoring 1 rows within DR_ONNX_RUN_TIMEOUT=1 seconds"
    with pytest.raises(DrOnnxError, match=message) as caught:
        score(pd.DataFrame({"x": [5.0]}), plan, **LABELS)  # about 5 s of work
    assert caught.value.status_code == 503 and time.monotonic() - start < 3
    quick = score(pd.DataFrame({"x": [0.0, 0.1]}), plan, **LABELS)
    np.testing.assert_allclose(quick["yes"], 1 / (1 + np.exp(-np.array([0.0, 0.1]))), atol=1e-6)


def test_the_default_limit_is_most_of_drums_worker_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_RUNTIME_PARAM_DRUM_CLIENT_REQUEST_TIMEOUT", '{"type": "numeric", "payload": 100}')
    assert load_model(str(write_model(tmp_path, slow_graph()))).runner.timeout == 90


def test_a_slow_warm_up_is_stopped_with_a_warning_and_the_model_still_loads(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DR_ONNX_WARMUP_TIMEOUT", "1")
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks"):
        plan = load_model(str(write_model(tmp_path, slow_graph(base_iterations=20_000_000))))  # about 20 s
    assert time.monotonic() - start < 5
    assert "Warm-up stopped after 1 s (DR_ONNX_WARMUP_TIMEOUT)" in caplog.text
    assert plan.choice("binary").name == "probability"


def test_no_limit_leaves_the_run_alone():
    with time_limit(None) as options:
        assert options is None and not timed_out(options)
