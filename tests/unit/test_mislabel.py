"""Each way an exporter keeps (or hides) class labels is served by class name, or refused at load
with a message that says what to do: never a wrong label without an error.

The models are scikit-learn estimators converted by skl2onnx in the test; the reference is the
estimator's own ``predict_proba``, matched by class name, with DataRobot's labels sent in another
order than the model's.
"""

import logging
import sys
import types

import numpy as np
import onnx
import onnx.numpy_helper
import pandas as pd
import pytest
from skl2onnx import to_onnx
from sklearn.ensemble import RandomForestClassifier, StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC, LinearSVC

from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.served import _host_has
from helpers import ATOL, assert_probabilities, label_kwargs
from models import (
    OPSET,
    classifier,
    features,
    labels_in_other_order,
    sklearn_onnx,
    text_pipeline,
    write_model,
    zip_classifier,
)


def kwargs_for(labels):
    """DRUM's kwargs for ``labels`` in DataRobot's order (binary: negative first)."""
    target = "binary" if len(labels) == 2 else "multiclass"
    return {"target_type": target, **label_kwargs(target, labels)}


def assert_like(model, frame: pd.DataFrame, scored: pd.DataFrame) -> None:
    assert_probabilities(scored, model, frame, model.classes_)


def served(tmp_path, onnx_model: bytes):
    return load_model(str(write_model(tmp_path, onnx_model)))


@pytest.mark.parametrize("labels", [("bad", "good"), ("ant", "bee", "cat")])
def test_zipmap_columns_outputs_are_stacked_in_their_labels_order(tmp_path, labels):
    model, train = classifier(labels)
    plan = served(tmp_path, sklearn_onnx(model, train, zipmap="columns"))
    choice = plan.choice("binary" if len(labels) == 2 else "multiclass")
    assert "one output per class" in choice.reason and choice.labels.labels == labels
    frame = features(40, seed=2)
    assert_like(model, frame, score(frame, plan, **kwargs_for(labels_in_other_order(labels))))


@pytest.mark.parametrize(
    "estimator", [LogisticRegression(), SVC(probability=True, random_state=0)], ids=["linear", "svm"]
)
def test_integer_labels_in_classlabels_ints_name_the_columns(tmp_path, estimator):
    model, train = classifier((0, 1))
    model = estimator.fit(train.to_numpy(np.float32), model.predict(train.to_numpy(np.float32)))
    plan = served(tmp_path, sklearn_onnx(model, train, zipmap=False))
    assert plan.graph_labels.labels == ("0", "1") and "classlabels_ints" in plan.graph_labels.source
    frame = features(40, seed=2)
    # DataRobot's positive label is the model's first class: position alone would serve it inverted
    assert_like(model, frame, score(frame, plan, **kwargs_for(("1", "0"))))


def test_mlp_labels_are_the_constant_its_label_output_reads(tmp_path):
    train = features(300, seed=1)
    y = np.where(train["f0"] + train["f1"] > 0, "yes", "no")
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(train.to_numpy(np.float32), y)
    plan = served(tmp_path, sklearn_onnx(model, train, zipmap=False))
    found = plan.graph_labels
    assert found.labels == ("no", "yes") and found.label_output == "label" and "behind label output" in found.source
    assert "agrees on the warm-up rows" in plan.choice("binary").agreement
    frame = features(40, seed=2)
    assert_like(model, frame, score(frame, plan, **kwargs_for(("yes", "no"))))


def test_stacking_labels_come_from_the_label_output_not_the_inner_nodes(tmp_path):
    train = features(300, seed=1).to_numpy(np.float32)
    y = np.where(train[:, 0] - train[:, 2] > 0, "good", "bad")
    model = StackingClassifier(
        [("lr", LogisticRegression()), ("rf", RandomForestClassifier(n_estimators=5, random_state=0))],
        final_estimator=LogisticRegression(),
    ).fit(train, y)
    onnx_model = to_onnx(model, train[:1], options={id(model): {"zipmap": False}},
                         target_opset={"": OPSET, "ai.onnx.ml": 3}).SerializeToString()
    plan = served(tmp_path, onnx_model)
    assert plan.graph_labels.labels == ("bad", "good")  # the inner nodes carry the encoded [0, 1]
    frame = features(40, seed=2)
    assert_like(model, frame, score(frame, plan, **kwargs_for(("good", "bad"))))


def test_decision_function_is_refused_at_load_whatever_the_values(tmp_path, monkeypatch):
    train = features(300, seed=1).to_numpy(np.float32)
    model = LinearSVC().fit(train, np.where(train[:, 0] > 0, "yes", "no"))
    onnx_model = to_onnx(model, train[:1], target_opset={"": OPSET, "ai.onnx.ml": 3}).SerializeToString()
    monkeypatch.setenv("TARGET_TYPE", "binary")
    with pytest.raises(DrOnnxError, match=r"does not hold probabilities: it holds raw scores \(LinearClassifier .*"
                                          r"post_transform NONE.*DR_ONNX_LOGITS") as caught:
        served(tmp_path, onnx_model)
    assert caught.value.status_code == 500


def test_text_pipeline_with_the_default_locale_serves_on_a_host_without_it(tmp_path, caplog):
    model, onnx_model = text_pipeline()
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks"):
        plan = served(tmp_path, onnx_model)
    if not _host_has("en_US.UTF-8"):
        assert "needs the locale en_US.UTF-8, which this host lacks; serving it with C.UTF-8" in caplog.text
    frame = pd.DataFrame({"text": ["good fast", "slow awful", "value"]})
    scored = score(frame, plan, **kwargs_for(("pos", "neg")))
    proba = model.predict_proba(frame["text"])
    for i, label in enumerate(model.classes_):
        np.testing.assert_allclose(scored[label], proba[:, i], atol=ATOL)


def test_zipmap_model_with_external_data_is_served_from_another_working_folder(tmp_path, monkeypatch):
    train = features(300, seed=1)
    y = np.where(train["f0"] + train["f1"] > 0, "yes", "no")
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(train.to_numpy(np.float32), y)
    graph = onnx.load_from_string(sklearn_onnx(model, train))  # weights are initializers, output a ZipMap
    raw = [onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(t), t.name) for t in graph.graph.initializer]
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(raw)  # as raw bytes, which onnx stores outside the file
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save_model(graph, str(folder / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)
    assert (folder / "model.onnx.data").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    plan = load_model(str(folder))
    assert plan.choice("binary").fetch == "probabilities"  # the ZipMap bypassed, external data found in the folder
    frame = features(30, seed=5)
    assert_like(model, frame, score(frame, plan, **kwargs_for(("yes", "no"))))


def test_non_finite_regression_output_is_an_error_naming_the_output(tmp_path):
    nodes = [onnx.helper.make_node("Log", ["X"], ["y"])]
    model = onnx.helper.make_model(onnx.helper.make_graph(
        nodes, "g", [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [None, 1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 1])],
    ), opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    plan = served(tmp_path, model.SerializeToString())
    with pytest.raises(DrOnnxError, match=r"Output 'y' is -inf at row 2: regression") as caught:
        score(pd.DataFrame({"x": [1.0, 0.0]}), plan, target_type="regression")
    assert caught.value.status_code == 500


def test_a_custom_py_without_our_reader_is_warned_about_for_string_inputs(tmp_path, monkeypatch, caplog):
    _, onnx_model, _ = zip_classifier()
    monkeypatch.setitem(sys.modules, "custom", types.ModuleType("custom"))  # DRUM's name for custom.py
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks"):
        served(tmp_path, onnx_model)
    assert "02134 arrive as the number 2134" in caplog.text
    assert "from dr_onnx_hooks import load_model, read_input_data, score" in caplog.text
