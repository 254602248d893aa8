"""Running the session: row chunks give the same result as one run; the ZipMap bypass reads the
very tensor the ZipMap would have turned into dicts."""

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from datarobot_drum.drum.enum import TargetType
from onnx import TensorProto, helper

from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.run import Runner
from dr_onnx_hooks.settings import CHUNK_ROWS_SETTING, DEFAULT_CHUNK_ROWS, MIN_CHUNK_ROWS
from helpers import label_kwargs
from models import WEIGHTS, _model, classifier, features, regression_graph, sklearn_onnx, write_model


def scored(tmp_path, monkeypatch, model: bytes, frame: pd.DataFrame, chunk_rows=None, **kwargs) -> pd.DataFrame:
    if chunk_rows:
        monkeypatch.setenv(CHUNK_ROWS_SETTING, str(chunk_rows))
    else:
        monkeypatch.delenv(CHUNK_ROWS_SETTING, raising=False)
    return score(frame, load_model(str(write_model(tmp_path / f"chunk-{chunk_rows}", model))), **kwargs)


@pytest.mark.parametrize("kind, zipmap", [("logreg", True), ("rf", False)])
@pytest.mark.parametrize("chunk_rows", [MIN_CHUNK_ROWS, 1_500, 2_500])
def test_chunked_scoring_is_identical_to_one_run(tmp_path, monkeypatch, kind, zipmap, chunk_rows):
    model, train = classifier(("a", "b", "c"), kind=kind)
    onnx_model, frame = sklearn_onnx(model, train, zipmap=zipmap), features(3_001, seed=3)
    kwargs = dict(target_type=TargetType.MULTICLASS, class_labels=["a", "b", "c"])
    whole = scored(tmp_path, monkeypatch, onnx_model, frame, None, **kwargs)
    chunked = scored(tmp_path, monkeypatch, onnx_model, frame, chunk_rows, **kwargs)
    pd.testing.assert_frame_equal(chunked, whole, check_exact=True)


def test_chunks_are_equal_slices_filling_one_array(monkeypatch):
    session = ort.InferenceSession(regression_graph(), providers=["CPUExecutionProvider"])
    runner = Runner(session, None, 100)
    assert runner._slices(201) == [(0, 67), (67, 134), (134, 201)]  # never a 1-row remainder
    x = features(201).to_numpy(np.float32)
    chunked = runner({"X": x}, "y")
    np.testing.assert_array_equal(chunked, Runner(session, None, DEFAULT_CHUNK_ROWS)({"X": x}, "y"))
    assert chunked.shape == (201, 1) and chunked.flags.c_contiguous


def test_a_fixed_batch_is_run_in_slices_of_that_batch_whatever_the_chunk_size(tmp_path, monkeypatch):
    frame = features(2_001)
    result = scored(tmp_path, monkeypatch, regression_graph(batch=2), frame, MIN_CHUNK_ROWS,
                    target_type=TargetType.REGRESSION)
    expected = frame.to_numpy() @ WEIGHTS.astype(np.float64)
    np.testing.assert_allclose(result["Predictions"], expected, rtol=1e-5, atol=1e-5)


def test_an_output_that_is_not_one_row_per_row_is_an_error_in_chunks_too():
    totals = _model(
        [helper.make_node("ReduceSum", ["X"], ["y"], keepdims=1)],
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
    )
    runner = Runner(ort.InferenceSession(totals, providers=["CPUExecutionProvider"]), None, 4)
    with pytest.raises(DrOnnxError, match=r"Output 'y' returned 1 rows for 3 input rows"):
        runner({"X": np.ones((10, 2), np.float32)}, "y")
    with pytest.raises(DrOnnxError, match=r"Output 'y' returned 1 rows for 3 input rows") as caught:
        runner({"X": np.ones((3, 2), np.float32)}, "y")  # one run, no slices
    assert caught.value.status_code == 500


@pytest.mark.parametrize("value", ["1000", "many"])
def test_a_bad_chunk_size_fails_the_load_naming_the_setting(tmp_path, monkeypatch, value):
    monkeypatch.setenv(CHUNK_ROWS_SETTING, value)
    with pytest.raises(DrOnnxError, match=rf"Setting {CHUNK_ROWS_SETTING} must be a whole number >= 1024; "
                                          rf"got '{value}'"):
        load_model(str(write_model(tmp_path, regression_graph())))


@pytest.mark.parametrize("labels", [("no", "yes"), ("ant", "cat", "dog"), (3, 1, 10)])
def test_zipmap_bypass_reads_exactly_the_zipmap_s_probabilities_and_labels(tmp_path, labels):
    model, train = classifier(labels, kind="rf")
    onnx_model, frame = sklearn_onnx(model, train, zipmap=True), features(50, seed=4)
    session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    raw = session.run(["output_probability"], {"X": frame.to_numpy(np.float32)})[0]
    raw_labels = tuple(str(label) for label in raw[0])
    plan = load_model(str(write_model(tmp_path, onnx_model)))
    target = "binary" if len(labels) == 2 else "multiclass"
    choice = plan.choice(target)
    assert choice.name == "output_probability" and choice.labels.labels == raw_labels
    fetched = plan.runner(plan.feed(frame), choice.fetch)
    np.testing.assert_array_equal(fetched, np.array([[row[key] for key in row] for row in raw], dtype=np.float32))
    sent = [str(label) for label in labels]
    target_type = TargetType.BINARY if target == "binary" else TargetType.MULTICLASS
    frame_out = score(frame, plan, target_type=target_type, **label_kwargs(target, sent))
    for position, label in enumerate(raw_labels):
        expected = [row[key] for row in raw for key in [list(row)[position]]]
        np.testing.assert_allclose(frame_out[label], expected, rtol=0, atol=1e-6)
