"""skl2onnx ``ColumnTransformer`` pipelines (one input per column) and an anomaly model, compared
with scikit-learn's own predictions by class name through ``score()`` (``tests/server/test_pipelines_server.py``:
through the real ``drum score`` and ``drum server``).

Requests look like a client's table (``models.as_sent``): an ID and the target column besides the
features, the columns in another order than the model's inputs, and a blank in the ``zone`` code
column (so ``pd.read_csv`` parses that text column as float64).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import StringTensorType
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.errors import DrOnnxError
from helpers import ATOL, assert_like_sklearn, label_kwargs
from models import (
    OPSET,
    PIPELINE_TARGETS,
    PIPELINE_TEXT,
    as_sent,
    exported_pipeline,
    features,
    isolation_forest,
    mixed_frame,
    request_rows,
    sent_labels,
    sklearn_onnx,
    write_model,
)


@pytest.fixture(scope="module", params=PIPELINE_TARGETS)
def fitted(request):
    return (request.param, *exported_pipeline(request.param))


def via_csv(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame`` written as CSV and read back the way DRUM reads a request."""
    frame.to_csv(path, index=False)
    return pd.read_csv(path)


def test_inputs_are_one_per_column_typed_like_the_columns(tmp_path, fitted):
    _, _, onnx_model = fitted
    plan = load_model(str(write_model(tmp_path, onnx_model)))
    assert {i.name: i.onnx_type for i in plan.feed.inputs} == {
        "city": "tensor(string)", "zone": "tensor(string)", "age": "tensor(float)", "income": "tensor(float)",
        "visits": "tensor(int64)",
    }


def test_score_as_drum_reads_the_csv(tmp_path, fitted):
    target, model, onnx_model = fitted
    rows, labels = request_rows(), sent_labels(model, target)
    data = via_csv(as_sent(rows), tmp_path / "input.csv")
    assert data["zone"].dtype == np.float64  # text codes with a blank: read as numbers
    frame = score(data, load_model(str(write_model(tmp_path / "model", onnx_model))), target_type=target,
                  **label_kwargs(target, labels))
    assert_like_sklearn(frame, model, rows, target, labels)


def _object(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.astype(object)


def _category(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(city=rows["city"].astype("category"), zone=pd.Categorical(pd.to_numeric(rows["zone"])))


def _numbers_as_text(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.astype({"age": "str", "income": "str", "visits": "str"})


def _nullable(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.astype({"city": "string", "zone": "string", "visits": "Int64"})


@pytest.mark.parametrize("convert", [_object, _category, _numbers_as_text, _nullable],
                         ids=["object", "category", "numbers-as-text", "nullable-dtypes"])
def test_score_accepts_every_pandas_column_type(tmp_path, fitted, convert):
    target, model, onnx_model = fitted
    rows, labels = request_rows(), sent_labels(model, target)
    plan = load_model(str(write_model(tmp_path, onnx_model)))
    frame = score(as_sent(convert(rows)), plan, target_type=target, **label_kwargs(target, labels))
    assert_like_sklearn(frame, model, rows, target, labels)


def test_single_string_input_takes_all_columns_in_order(tmp_path):
    train = mixed_frame()
    y = np.where(train["city"] == "Paris", "paris", "elsewhere")
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression())
    model.fit(train[list(PIPELINE_TEXT)], y)
    onnx_model = convert_sklearn(
        model, initial_types=[("text", StringTensorType([None, len(PIPELINE_TEXT)]))],
        options={id(model): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 3},
    ).SerializeToString()
    rows = request_rows()[list(PIPELINE_TEXT)]
    data = via_csv(rows, tmp_path / "input.csv")
    frame = score(data, load_model(str(write_model(tmp_path / "model", onnx_model))), target_type="binary",
                  positive_class_label="elsewhere", negative_class_label="paris")
    assert_like_sklearn(frame, model, rows, "binary", ["paris", "elsewhere"])


# --- anomaly: skl2onnx IsolationForest, outputs label (±1) and scores ---------------------------

@pytest.fixture(scope="module")
def forest():
    model, train = isolation_forest()
    return model, sklearn_onnx(model, train), features(50, seed=5)


def test_anomaly_serves_the_first_output_label_by_default(tmp_path, forest):
    model, onnx_model, data = forest
    frame = score(data, load_model(str(write_model(tmp_path, onnx_model))), target_type="anomaly")
    np.testing.assert_array_equal(frame["Predictions"], model.predict(data.to_numpy(np.float32)))


def test_anomaly_scores_by_override_equal_decision_function(tmp_path, monkeypatch, forest):
    model, onnx_model, data = forest
    monkeypatch.setenv("DR_ONNX_OUTPUT", "scores")
    frame = score(data, load_model(str(write_model(tmp_path, onnx_model))), target_type="anomaly")
    np.testing.assert_allclose(frame["Predictions"], model.decision_function(data.to_numpy(np.float32)), atol=ATOL)


def test_wrong_override_fails_at_load_listing_the_outputs(tmp_path, monkeypatch, forest):
    _, onnx_model, _ = forest
    monkeypatch.setenv("DR_ONNX_OUTPUT", "score")
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_OUTPUT='score' names no output of model\.onnx; "
                                          r"its outputs are: label, scores\."):
        load_model(str(write_model(tmp_path, onnx_model)))
