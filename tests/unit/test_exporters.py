"""Every model made by a real exporter (torch.onnx, onnxmltools, CatBoost, tf2onnx, hummingbird)
gives the native framework's own predictions, by class name, through ``load_model`` + ``score``.

Where the graph names its classes with the user's labels, DataRobot's labels are also sent in
another order (and binary's positive/negative swapped): the columns must follow the names.
"""

import logging

import pytest

from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.graph import INDICES, LABELS
from exporters import NAMES, load
from helpers import assert_named_like


def scored(fixture, tmp_path, monkeypatch, labels=(), **settings):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    plan = load_model(str(fixture.copy_to(tmp_path / fixture.name)))
    return plan, score(fixture.rows, plan, **fixture.kwargs(labels))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "torch_multiclass_logits"])
def test_native_predictions_by_class_name(tmp_path, monkeypatch, name):
    fixture = load(name)
    plan, frame = scored(fixture, tmp_path, monkeypatch)
    assert_named_like(frame, fixture.expected)
    if fixture.target == "regression":
        return
    found = plan.graph_labels
    if found is not None and found.meaning == LABELS:  # the graph names its classes: any order DataRobot sends works
        _, reordered = scored(fixture, tmp_path / "reversed", monkeypatch, tuple(reversed(fixture.labels)))
        assert_named_like(reordered, fixture.expected)


def test_logits_are_refused_at_load_naming_the_setting(tmp_path, monkeypatch):
    fixture = load("torch_multiclass_logits")
    monkeypatch.setenv("TARGET_TYPE", "multiclass")
    with pytest.raises(DrOnnxError, match=r"Output 'logits' does not hold probabilities: "
                                          r"it holds raw scores \(Gemm node.*set DR_ONNX_LOGITS=softmax"):
        load_model(str(fixture.copy_to(tmp_path / "m")))


def test_logits_with_the_setting_are_softmaxed(tmp_path, monkeypatch):
    fixture = load("torch_multiclass_logits")
    plan, frame = scored(fixture, tmp_path, monkeypatch, DR_ONNX_LOGITS="softmax")
    assert plan.choice("multiclass").transform == "softmax"
    assert_named_like(frame, fixture.expected)


def test_log_softmax_head_is_exponentiated_from_the_graph(tmp_path, monkeypatch):
    plan, frame = scored(load("torch_multiclass_logsoftmax"), tmp_path, monkeypatch)
    assert plan.choice("multiclass").transform == "exp" and "LogSoftmax" in plan.choice("multiclass").scale_note


def test_xgboost_label_encoded_classes_are_read_by_position_not_matched_by_name(tmp_path, monkeypatch, caplog):
    fixture = load("xgboost_multiclass_encoded")  # labels "0".."10" encoded in text order; graph keeps 0..10
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks"):
        plan, frame = scored(fixture, tmp_path, monkeypatch)
    assert plan.graph_labels.meaning == INDICES
    assert_named_like(frame, fixture.expected)
    assert "class indices" in caplog.text and "DR_ONNX_CLASS_ORDER=graph" in caplog.text
    assert "agrees on the warm-up rows" in plan.choice("multiclass").agreement


def test_torch_external_weights_must_be_beside_the_model(tmp_path):
    folder = load("torch_multiclass_softmax").copy_to(tmp_path / "m")
    (folder / "model.onnx.data").unlink()
    with pytest.raises(DrOnnxError, match=r"model.onnx keeps weights in 'model.onnx.data', which is not in .*"
                                          r"external_data=False") as caught:
        load_model(str(folder))
    assert caught.value.status_code == 500


def test_hummingbird_output_of_unknown_scale_is_judged_on_the_warm_up(tmp_path, monkeypatch):
    plan, _ = scored(load("hummingbird_multiclass"), tmp_path, monkeypatch)
    assert "warm-up rows sum to 1" in plan.choice("multiclass").scale_note
