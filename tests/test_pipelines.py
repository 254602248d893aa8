"""skl2onnx ``ColumnTransformer`` pipelines (one input per column) and an anomaly model, compared
with scikit-learn's own predictions by class name: through ``score()``, the real ``drum score``,
and one real ``drum server``.

Requests look like a client's table: an ID and the target column besides the features, the
columns in another order than the model's inputs, and a blank in the ``zone`` code column (so
``pd.read_csv`` parses that text column as float64).
"""

from pathlib import Path
from typing import Dict, List, Sequence

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
from drum_helpers import DrumServer, csv_bytes, label_args, run_drum_score, write_code_dir
from models import (
    OPSET, PIPELINE_TEXT, features, isolation_forest, labels_in_other_order, mixed_frame, pipeline,
    pipeline_onnx, sklearn_onnx, write_model,
)

ATOL = 1e-5  # the models compute in float32
TARGET_COLUMN = "outcome"
REQUEST_ORDER = ["visits", "id", "zone", TARGET_COLUMN, "income", "city", "age"]


def request_rows(n_rows: int = 40) -> pd.DataFrame:
    """Feature rows as scikit-learn sees them; row 3's zone is missing."""
    rows = mixed_frame(n_rows, seed=7)
    rows.loc[2, "zone"] = np.nan
    return rows


def as_sent(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` as a client sends them: with an ID and the target column, columns reordered."""
    return rows.assign(id=np.arange(1000, 1000 + len(rows)), **{TARGET_COLUMN: "?"})[REQUEST_ORDER]


def via_csv(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame`` written as CSV and read back the way DRUM reads a request."""
    frame.to_csv(path, index=False)
    return pd.read_csv(path)


def sent_labels(model, target: str) -> List[str]:
    """DataRobot's labels in an order unlike ``model.classes_``: (negative, positive) for binary with
    the model's FIRST class as positive; reversed classes for multiclass."""
    return list(labels_in_other_order(model.classes_)) if target != "regression" else []


def label_kwargs(target: str, labels: Sequence[str]) -> Dict[str, object]:
    if target == "binary":
        return {"negative_class_label": labels[0], "positive_class_label": labels[1]}
    return {"class_labels": list(labels)} if target == "multiclass" else {}


def drum_label_args(target: str, labels: Sequence[str]) -> List[str]:
    if target == "binary":
        return label_args(positive=labels[1], negative=labels[0])
    return label_args(class_labels=labels)


def assert_like_sklearn(frame: pd.DataFrame, model, rows: pd.DataFrame, target: str, labels: Sequence[str]) -> None:
    assert len(frame) == len(rows)
    if target == "regression":
        assert list(frame.columns) == ["Predictions"]
        np.testing.assert_allclose(frame["Predictions"], model.predict(rows), rtol=1e-4, atol=1e-4)
        return
    assert sorted(frame.columns) == sorted(labels)
    proba = model.predict_proba(rows)
    for i, label in enumerate(model.classes_):
        np.testing.assert_allclose(frame[str(label)], proba[:, i], atol=ATOL, err_msg=f"column {label!r}")


TARGETS = ("binary", "multiclass", "regression")
ZIPMAP = {"binary": True, "multiclass": False}  # both skl2onnx forms: ZipMap dicts and a plain tensor


@pytest.fixture(scope="module", params=TARGETS)
def fitted(request):
    target = request.param
    model, train = pipeline(target)
    return target, model, pipeline_onnx(model, train, zipmap=ZIPMAP.get(target, False))


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


@pytest.mark.drum
def test_drum_score(tmp_path, fitted):
    target, model, onnx_model = fitted
    rows, labels = request_rows(), sent_labels(model, target)
    input_csv, output_csv = tmp_path / "input.csv", tmp_path / "output.csv"
    as_sent(rows).to_csv(input_csv, index=False)
    result = run_drum_score(write_code_dir(tmp_path / "model", onnx_model), input_csv, output_csv, target,
                            drum_label_args(target, labels))
    assert result.returncode == 0, f"drum score failed:\n{result.stdout}\n{result.stderr}"
    assert_like_sklearn(pd.read_csv(output_csv), model, rows, target, labels)


def test_single_string_input_takes_all_columns_in_order(tmp_path):
    train = mixed_frame()
    y = np.where(train["city"] == "Paris", "paris", "elsewhere")
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression()).fit(train[list(PIPELINE_TEXT)], y)
    onnx_model = convert_sklearn(
        model, initial_types=[("text", StringTensorType([None, len(PIPELINE_TEXT)]))],
        options={id(model): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 3},
    ).SerializeToString()
    rows = request_rows()[list(PIPELINE_TEXT)]
    data = via_csv(rows, tmp_path / "input.csv")
    frame = score(data, load_model(str(write_model(tmp_path / "model", onnx_model))), target_type="binary",
                  positive_class_label="elsewhere", negative_class_label="paris")
    assert_like_sklearn(frame, model, rows, "binary", ["paris", "elsewhere"])


# --- one real drum server: the multiclass pipeline, good and bad requests -----------------------

@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    model, train = pipeline("multiclass")
    labels = sent_labels(model, "multiclass")
    folder = write_code_dir(tmp_path_factory.mktemp("pipeline_server") / "model", pipeline_onnx(model, train))
    drum = DrumServer(folder, "multiclass", label_args(class_labels=labels), log_dir=folder.parent)
    request.addfinalizer(drum.stop)
    return drum.start(timeout=60), model, labels


def _assert_served_like_sklearn(drum: DrumServer, model, labels, rows: pd.DataFrame) -> None:
    response = drum.predict_csv(as_sent(rows))
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    assert_like_sklearn(pd.DataFrame(response.json()["predictions"]), model, rows, "multiclass", labels)


@pytest.mark.drum
def test_server_predictions_are_named_by_class(server):
    drum, model, labels = server
    _assert_served_like_sklearn(drum, model, labels, request_rows())


def _missing_columns(sent: pd.DataFrame) -> pd.DataFrame:
    return sent.drop(columns=["age", "visits"])


def _blank_int(sent: pd.DataFrame) -> pd.DataFrame:
    return sent.assign(visits=sent["visits"].where(sent.index != 3))


@pytest.mark.drum
@pytest.mark.parametrize("bad, parts", [
    (_missing_columns, ["Missing column(s) for model input(s): age, visits", "Received columns: id, zone"]),
    (_blank_int, ["Column 'visits' holds a missing value at row 4", "model input 'visits' expects tensor(int64)"]),
], ids=["missing-columns", "blank-in-int64-column"])
def test_server_bad_request_is_422_naming_what_is_wrong(server, bad, parts):
    drum, model, labels = server
    rows = request_rows(8)
    response = drum.predict_csv(csv_bytes(bad(as_sent(rows))))
    assert response.status_code == 422, f"{response.status_code}: {response.text}"
    message = response.json()["message"]
    for part in parts:
        assert part in message, message
    _assert_served_like_sklearn(drum, model, labels, rows)


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


@pytest.mark.drum
def test_drum_score_anomaly_with_override(tmp_path, forest):
    model, onnx_model, data = forest
    input_csv, output_csv = tmp_path / "input.csv", tmp_path / "output.csv"
    data.to_csv(input_csv, index=False)
    result = run_drum_score(write_code_dir(tmp_path / "model", onnx_model), input_csv, output_csv, "anomaly",
                            env={"DR_ONNX_OUTPUT": "scores"})
    assert result.returncode == 0, f"drum score failed:\n{result.stdout}\n{result.stderr}"
    np.testing.assert_allclose(
        pd.read_csv(output_csv)["Predictions"], model.decision_function(data.to_numpy(np.float32)), atol=ATOL
    )


def test_wrong_override_fails_at_load_listing_the_outputs(tmp_path, monkeypatch, forest):
    _, onnx_model, _ = forest
    monkeypatch.setenv("DR_ONNX_OUTPUT", "score")
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_OUTPUT='score' names no output of model\.onnx; "
                                          r"its outputs are: label, scores\."):
        load_model(str(write_model(tmp_path, onnx_model)))
