"""Session settings, provider fallback and the optimised-model cache."""

import json
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from datarobot_drum.drum.enum import TargetType

from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.session import SessionSettings, create_session, providers
from models import features, regression_graph, write_model

NO_CUDA = pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="this onnxruntime has CUDA"
)


@pytest.fixture
def one_cpu_quota(tmp_path):
    (tmp_path / "cgroup").mkdir()
    (tmp_path / "cgroup" / "cpu.max").write_text("100000 100000\n")
    return tmp_path / "cgroup"


def test_defaults(one_cpu_quota):
    settings = SessionSettings.read({}, one_cpu_quota)
    assert settings == SessionSettings(("CPUExecutionProvider",), 1, 1, True, 250, "all", None)
    options = settings.options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.intra_op.spin_duration_us") == "250"
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_every_setting_from_variables_and_runtime_parameters(tmp_path, one_cpu_quota):
    env = {
        "DR_ONNX_INTRA_OP_THREADS": "3",
        "MLOPS_RUNTIME_PARAM_DR_ONNX_INTER_OP_THREADS": json.dumps({"type": "numeric", "payload": 2}),
        "DR_ONNX_ALLOW_SPINNING": "off",
        "DR_ONNX_SPIN_MICROSECONDS": "40",
        "MLOPS_RUNTIME_PARAM_DR_ONNX_GRAPH_OPTIMIZATION": json.dumps({"type": "string", "payload": "basic"}),
        "DR_ONNX_OPTIMIZED_MODEL_PATH": str(tmp_path / "cache"),
    }
    settings = SessionSettings.read(env, one_cpu_quota)
    assert settings == SessionSettings(("CPUExecutionProvider",), 3, 2, False, 40, "basic", tmp_path / "cache")
    options = settings.options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (3, 2)
    assert options.execution_mode == ort.ExecutionMode.ORT_PARALLEL  # inter-op threads need the parallel executor
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC


@pytest.mark.parametrize("microseconds, entry", [("1000", "1000"), ("0", None)])
def test_spin_bound(one_cpu_quota, microseconds, entry):
    options = SessionSettings.read({"DR_ONNX_SPIN_MICROSECONDS": microseconds}, one_cpu_quota).options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    if entry is None:  # 0: onnxruntime's own bound, no entry
        with pytest.raises(RuntimeError, match="spin_duration_us"):
            options.get_session_config_entry("session.intra_op.spin_duration_us")
    else:
        assert options.get_session_config_entry("session.intra_op.spin_duration_us") == entry


def test_loaded_session_uses_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_ONNX_INTRA_OP_THREADS", "1")
    monkeypatch.setenv("DR_ONNX_GRAPH_OPTIMIZATION", "disable")
    plan = load_model(str(write_model(tmp_path, regression_graph())))
    assert plan.session.get_session_options().intra_op_num_threads == 1
    assert plan.session.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL


@NO_CUDA
@pytest.mark.parametrize("asked", ["CUDAExecutionProvider", "CUDAExecutionProvider, CPUExecutionProvider"])
def test_cuda_asked_but_not_available_falls_back_to_cpu_with_a_warning(tmp_path, monkeypatch, caplog, asked):
    monkeypatch.setenv("DR_ONNX_PROVIDERS", asked)
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks.session"):
        plan = load_model(str(write_model(tmp_path, regression_graph())))
    assert plan.session.get_providers() == ["CPUExecutionProvider"]
    assert "CUDAExecutionProvider, which this onnxruntime build does not have" in caplog.text
    frame = features(3)
    np.testing.assert_allclose(score(frame, plan, target_type=TargetType.REGRESSION)["Predictions"],
                               frame.to_numpy() @ [0.8, -0.5, 0.3, 1.1], rtol=1e-5)


def test_a_provider_onnxruntime_does_not_know_is_an_error_naming_it():
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_PROVIDERS names CPUExecutionProviderr, "
                                          r"which onnxruntime does not know"):
        providers({"DR_ONNX_PROVIDERS": "CPUExecutionProviderr"})


def test_an_unloadable_model_is_an_error_with_onnxruntime_s_reason():
    with pytest.raises(DrOnnxError, match=r"onnxruntime cannot load broken.onnx: .*"):
        create_session(b"not a model", Path("broken.onnx"), SessionSettings.read({}))


def test_optimized_model_is_saved_once_and_loaded_back(tmp_path, monkeypatch, caplog):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DR_ONNX_OPTIMIZED_MODEL_PATH", str(cache))
    folder = write_model(tmp_path / "model", regression_graph())
    frame = features(5)
    first = score(frame, load_model(str(folder)), target_type=TargetType.REGRESSION)
    saved = sorted(cache.iterdir())
    assert [p.suffix for p in saved] == [".onnx"] and saved[0].name.startswith("model.")
    with caplog.at_level(logging.INFO, logger="dr_onnx_hooks.session"):
        plan = load_model(str(folder))
    assert f"Loading the optimised model.onnx from {saved[0]}" in caplog.text
    assert plan.session.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    np.testing.assert_array_equal(score(frame, plan, target_type=TargetType.REGRESSION), first)
    assert sorted(cache.iterdir()) == saved  # nothing written the second time


def test_a_changed_model_never_loads_a_stale_optimized_file(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DR_ONNX_OPTIMIZED_MODEL_PATH", str(cache))
    load_model(str(write_model(tmp_path / "model", regression_graph())))
    plan = load_model(str(write_model(tmp_path / "model", regression_graph(width=3))))
    assert len(list(cache.iterdir())) == 2
    assert plan.session.get_inputs()[0].shape == [None, 3]


def test_an_unwritable_optimized_model_path_only_warns(tmp_path, monkeypatch, caplog):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("DR_ONNX_OPTIMIZED_MODEL_PATH", str(tmp_path / "file" / "cache"))
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks.session"):
        plan = load_model(str(write_model(tmp_path / "model", regression_graph())))
    assert "Cannot write the optimised model.onnx" in caplog.text
    assert len(score(features(2), plan, target_type=TargetType.REGRESSION)) == 2
