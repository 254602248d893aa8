"""Warm-up at load: one run on made-up input of the declared types, skipped cleanly when impossible."""

import logging

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from datarobot_drum.drum.enum import TargetType
from onnx import TensorProto, helper

from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.warmup import synthetic_feeds, warm_up
from models import _model, identity_graph, regression_graph, write_model

LOGGER = "dr_onnx_hooks.warmup"


def session(model: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


def text_to_number_graph() -> bytes:
    """Text input cast to float inside the graph: a run on "" fails (``stod``), real numbers as text work."""
    return _model(
        [helper.make_node("Cast", ["X"], ["y"], to=TensorProto.FLOAT)],
        [helper.make_tensor_value_info("X", TensorProto.STRING, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
    )


@pytest.mark.parametrize("elem_type, batch, dtype, shape", [
    (TensorProto.FLOAT, None, np.float32, (1, 3)),
    (TensorProto.DOUBLE, "N", np.float64, (1, 3)),
    (TensorProto.INT64, 4, np.int64, (4, 3)),
    (TensorProto.BOOL, None, np.bool_, (1, 3)),
    (TensorProto.STRING, None, object, (1, 3)),
])
def test_made_up_input_is_zeros_of_the_declared_type_and_batch(elem_type, batch, dtype, shape):
    feeds = synthetic_feeds(session(identity_graph(elem_type, width=3, batch=batch)).get_inputs())
    assert feeds["X"].dtype == dtype and feeds["X"].shape == shape
    assert (feeds["X"] == ("" if dtype is object else 0)).all()


def test_an_input_with_a_symbolic_width_cannot_be_made_up(caplog):
    model = _model(
        [helper.make_node("Identity", ["X"], ["y"])],
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, "width"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, "width"])],
    )
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert synthetic_feeds(session(model).get_inputs()) is None
    assert "Warm-up skipped: input 'X' has shape [1, 'width']" in caplog.text


def test_load_runs_the_warm_up(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        load_model(str(write_model(tmp_path, regression_graph())))
    assert "Warm-up run took" in caplog.text


def test_string_input_the_graph_rejects_as_zeros_skips_cleanly(tmp_path, caplog, capfd):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        plan = load_model(str(write_model(tmp_path, text_to_number_graph())))
    assert "Warm-up skipped: the run on made-up input failed" in caplog.text
    assert "ERROR" not in caplog.text and "Non-zero status" not in capfd.readouterr().err  # no onnxruntime error log
    frame = pd.DataFrame({"a": ["0.5", "1"], "b": ["0", "0.25"]})
    result = score(frame, plan, target_type=TargetType.MULTILABEL, class_labels=["a", "b"])
    np.testing.assert_array_equal(result.to_numpy(), [[0.5, 0.0], [1.0, 0.25]])


def test_a_string_model_that_accepts_empty_text_is_warmed_up(caplog):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        warm_up(session(identity_graph(TensorProto.STRING)))
    assert "Warm-up run took" in caplog.text
