"""``load_model`` + ``score`` end to end, compared with scikit-learn's own predictions."""

import json

import numpy as np
import pandas as pd
import pytest
from datarobot_drum.drum.enum import TargetType
from onnx import TensorProto
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import dr_onnx_hooks
from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.errors import DrOnnxError
from helpers import assert_probabilities
from models import (
    WEIGHTS,
    classifier,
    features,
    identity_graph,
    labels_in_other_order,
    logits_graph,
    regression_graph,
    regressor,
    sigmoid_expected,
    sigmoid_graph,
    sklearn_onnx,
    softmax_expected,
    softmax_graph,
    write_model,
)

F32 = dict(rtol=0, atol=2e-6)  # float32 probabilities


def served(tmp_path, model_bytes):
    return load_model(str(write_model(tmp_path, model_bytes)))


def test_star_import_exports_the_three_hooks():
    namespace = {}
    exec("from dr_onnx_hooks import *", namespace)
    assert sorted(k for k in namespace if not k.startswith("__")) == ["load_model", "read_input_data", "score"]
    assert dr_onnx_hooks.__all__ == ["load_model", "read_input_data", "score"]


@pytest.mark.parametrize("zipmap", [True, False])
@pytest.mark.parametrize("labels, kind", [(("no", "yes"), "logreg"), ((0, 1), "rf"), (("b", "a"), "logreg")])
@pytest.mark.parametrize("positive_first", [True, False])
def test_binary_columns_are_named_by_class_whatever_datarobot_calls_positive(
    tmp_path, zipmap, labels, kind, positive_first
):
    model, train = classifier(labels, kind=kind)
    plan = served(tmp_path, sklearn_onnx(model, train, zipmap=zipmap))
    positive, negative = (str(labels[0]), str(labels[1])) if positive_first else (str(labels[1]), str(labels[0]))
    data = features(40)
    frame = score(
        data, plan, target_type=TargetType.BINARY, positive_class_label=positive, negative_class_label=negative
    )
    assert_probabilities(frame, model, data, (negative, positive), **F32)


@pytest.mark.parametrize("zipmap", [True, False])
@pytest.mark.parametrize("labels, kind", [(("ant", "cat", "dog"), "logreg"), ((3, 1, 2, 10), "rf")])
def test_multiclass_columns_are_named_by_class_when_datarobot_orders_labels_differently(tmp_path, zipmap, labels, kind):
    model, train = classifier(labels, kind=kind)
    plan = served(tmp_path, sklearn_onnx(model, train, zipmap=zipmap))
    sent = labels_in_other_order(model.classes_)
    data = features(40)
    frame = score(data, plan, target_type=TargetType.MULTICLASS, class_labels=list(sent))
    assert_probabilities(frame, model, data, sent, **F32)
    np.testing.assert_allclose(frame.sum(axis=1), 1.0, atol=1e-12)


def test_regression_matches_sklearn_predict(tmp_path):
    model, train = regressor()
    data = features(50)
    frame = score(data, served(tmp_path, sklearn_onnx(model, train)), target_type=TargetType.REGRESSION)
    assert frame.columns.tolist() == ["Predictions"]
    np.testing.assert_allclose(frame["Predictions"], model.predict(data.to_numpy(np.float32)), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("rank1", [True, False])
def test_single_sigmoid_value_is_the_positive_probability(tmp_path, rank1):
    data = features(30)
    frame = score(data, served(tmp_path, sigmoid_graph(rank1)), target_type="binary",
                  positive_class_label="churn", negative_class_label="stay")
    np.testing.assert_allclose(frame["churn"], sigmoid_expected(data), **F32)
    np.testing.assert_allclose(frame["stay"], 1 - sigmoid_expected(data), **F32)


@pytest.mark.parametrize("label_first", [False, True])
def test_two_softmax_columns_are_negative_then_positive(tmp_path, label_first):
    data = features(30)
    frame = score(data, served(tmp_path, softmax_graph(label_first=label_first)), target_type=TargetType.BINARY,
                  positive_class_label="1", negative_class_label="0")
    np.testing.assert_allclose(frame[["0", "1"]].to_numpy(), softmax_expected(data), **F32)


@pytest.mark.parametrize("elem_type, values", [
    (TensorProto.DOUBLE, [[0.1234567890123], [-2.5]]),
    (TensorProto.INT64, [[2**40 + 1], [-7]]),
    (TensorProto.INT32, [[5], [-7]]),
])
def test_inputs_are_cast_to_the_declared_type_not_float32(tmp_path, elem_type, values):
    data = pd.DataFrame({"x": [v[0] for v in values]})
    frame = score(data, served(tmp_path, identity_graph(elem_type, width=1)), target_type=TargetType.REGRESSION)
    assert frame["Predictions"].tolist() == [v[0] for v in values]


def test_sigmoid_on_int_and_bool_inputs(tmp_path):
    data = pd.DataFrame({"a": [1, 0], "b": [0, 1], "c": [1, 1], "d": [0, 0]})
    for elem_type, (sub) in [(TensorProto.INT64, "int"), (TensorProto.BOOL, "bool")]:
        frame = score(data.astype(bool) if sub == "bool" else data,
                      served(tmp_path / sub, sigmoid_graph(False, elem_type)),
                      target_type="binary", positive_class_label="y", negative_class_label="n")
        np.testing.assert_allclose(frame["y"], sigmoid_expected(data), **F32)


def test_missing_values_reach_the_model(tmp_path):
    """DataRobot's ``drum validation`` blanks each column in turn; a model that imputes must answer."""
    train = features(200)
    y = np.where(train["f0"] + train["f1"] > 0, "hi", "lo")
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(train.to_numpy(np.float32), y)
    data = features(20, seed=3)
    data["f2"] = np.nan
    frame = score(data, served(tmp_path, sklearn_onnx(model, train)), target_type="binary",
                  positive_class_label="hi", negative_class_label="lo")
    assert_probabilities(frame, model, data, ("lo", "hi"), **F32)


def test_target_type_falls_back_to_the_environment(tmp_path, monkeypatch):
    model, train = regressor()
    monkeypatch.setenv("TARGET_TYPE", "Regression")
    data = features(5)
    frame = score(data, served(tmp_path, sklearn_onnx(model, train)))
    np.testing.assert_allclose(frame["Predictions"], model.predict(data.to_numpy(np.float32)), rtol=1e-4, atol=1e-3)


def test_unknown_target_type_is_a_clear_error(tmp_path):
    with pytest.raises(DrOnnxError, match=r"Target type 'transform' is not served"):
        score(features(2), served(tmp_path, softmax_graph()), target_type=TargetType.TRANSFORM)
    with pytest.raises(DrOnnxError, match=r"Target type '\(not set\)'"):
        score(features(2), served(tmp_path, softmax_graph()))


def test_result_has_one_row_per_input_row_and_a_fresh_index(tmp_path):
    data = features(10).set_index(pd.Index(range(100, 110)))
    frame = score(data, served(tmp_path, softmax_graph()), target_type="binary",
                  positive_class_label="p", negative_class_label="n")
    assert frame.index.tolist() == list(range(10))


def test_zero_rows_give_an_empty_labelled_frame(tmp_path):
    plan = served(tmp_path, softmax_graph())
    frame = score(features(0), plan, target_type="binary", positive_class_label="p", negative_class_label="n")
    assert len(frame) == 0 and sorted(frame.columns) == ["n", "p"]


def test_fixed_batch_graph_is_scored_in_batches(tmp_path):
    data = features(101)
    frame = score(data, served(tmp_path, regression_graph(batch=1)), target_type="regression")
    np.testing.assert_allclose(frame["Predictions"], data.to_numpy(np.float64) @ WEIGHTS, rtol=1e-5, atol=1e-5)
    frame = score(data, served(tmp_path / "b8", regression_graph(batch=8)), target_type="regression")
    np.testing.assert_allclose(frame["Predictions"], data.to_numpy(np.float64) @ WEIGHTS, rtol=1e-5, atol=1e-5)


def test_logits_are_refused_naming_the_output(tmp_path):
    with pytest.raises(DrOnnxError, match=r"Output 'scores' does not hold probabilities"):
        score(features(5), served(tmp_path, logits_graph()), target_type="binary",
              positive_class_label="p", negative_class_label="n")


def test_wrong_column_count_is_a_422_naming_the_columns(tmp_path):
    message = r"expects 4 column\(s\) per row, received 5: 'f0', 'f1', 'f2', 'f3', 'f4'"
    with pytest.raises(DrOnnxError, match=message) as caught:
        score(features(3, n_features=5), served(tmp_path, softmax_graph()), target_type="binary",
              positive_class_label="p", negative_class_label="n")
    assert caught.value.status_code == 422


def test_text_in_a_numeric_model_is_a_422_naming_the_column(tmp_path):
    data = features(3).astype(object)
    data.loc[1, "f2"] = "n/a"
    message = r"Column 'f2' holds text of 3 characters at row 2, which is not a number"
    with pytest.raises(DrOnnxError, match=message) as caught:
        score(data, served(tmp_path, softmax_graph()), target_type="binary",
              positive_class_label="p", negative_class_label="n")
    assert caught.value.status_code == 422


@pytest.mark.parametrize("how", ["plain", "runtime_param"])
def test_output_override_from_environment_or_runtime_parameter(tmp_path, monkeypatch, how):
    model, train = classifier(("no", "yes"))
    if how == "plain":
        monkeypatch.setenv("DR_ONNX_OUTPUT", "probabilities")
    else:
        monkeypatch.setenv(
            "MLOPS_RUNTIME_PARAM_DR_ONNX_OUTPUT", json.dumps({"type": "string", "payload": "probabilities"})
        )
    plan = served(tmp_path, sklearn_onnx(model, train, zipmap=False))
    data = features(10)
    frame = score(data, plan, target_type="binary", positive_class_label="yes", negative_class_label="no")
    assert_probabilities(frame, model, data, ("no", "yes"), **F32)
    assert plan.choice("binary").reason == "named by DR_ONNX_OUTPUT"


def test_unknown_output_override_fails_at_load_listing_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_ONNX_OUTPUT", "proba")
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_OUTPUT='proba' names no output of model.onnx; "
                                          r"its outputs are: out"):
        served(tmp_path, softmax_graph())


def test_known_target_type_makes_load_fail_early_for_an_unusable_model(tmp_path, monkeypatch):
    model, train = classifier(("no", "yes"))
    monkeypatch.setenv("TARGET_TYPE", "regression")
    with pytest.raises(DrOnnxError, match=r"'output_label' is tensor\(string\), not a numeric tensor"):
        served(tmp_path, sklearn_onnx(model, train))


def test_model_dir_setting_points_load_model_elsewhere(tmp_path, monkeypatch):
    write_model(tmp_path / "model", softmax_graph())
    (tmp_path / "code").mkdir()
    monkeypatch.setenv("DR_ONNX_MODEL_DIR", str(tmp_path / "model"))
    assert load_model(str(tmp_path / "code")).path == tmp_path / "model" / "model.onnx"


@pytest.mark.parametrize("target, shown", [("regression", False), ("binary", True), (None, True)])
def test_the_load_line_says_what_the_class_output_holds_only_where_classes_are_served(
    tmp_path, monkeypatch, caplog, target, shown
):
    if target:
        monkeypatch.setenv("TARGET_TYPE", target)
    fitted, train = regressor() if target == "regression" else classifier(("no", "yes"))
    with caplog.at_level("INFO", logger="dr_onnx_hooks"):
        served(tmp_path, sklearn_onnx(fitted, train))
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dr_onnx_hooks loaded")]
    assert ("class output holds probability (" in line) is shown, line
