"""skl2onnx ``ColumnTransformer`` pipelines (one input per column) and an anomaly model through the
real ``drum score`` and one real ``drum server``, compared with scikit-learn's own predictions by
class name; requests look like a client's table (``models.as_sent``). ``tests/unit/test_pipelines.py``
checks the same models through ``score()``.
"""

import numpy as np
import pandas as pd
import pytest

from drum_helpers import DrumServer, label_args, run_drum_score, serve, target_label_args, write_code_dir
from helpers import ATOL, assert_like_sklearn, csv_bytes, predictions
from models import (
    PIPELINE_TARGETS,
    as_sent,
    exported_pipeline,
    features,
    isolation_forest,
    pipeline,
    pipeline_onnx,
    request_rows,
    sent_labels,
    sklearn_onnx,
)

pytestmark = pytest.mark.drum


@pytest.fixture(scope="module", params=PIPELINE_TARGETS)
def fitted(request):
    return (request.param, *exported_pipeline(request.param))


def test_drum_score(tmp_path, fitted):
    target, model, onnx_model = fitted
    rows, labels = request_rows(), sent_labels(model, target)
    input_csv, output_csv = tmp_path / "input.csv", tmp_path / "output.csv"
    as_sent(rows).to_csv(input_csv, index=False)
    result = run_drum_score(write_code_dir(tmp_path / "model", onnx_model), input_csv, output_csv, target,
                            target_label_args(target, labels))
    assert result.returncode == 0, f"drum score failed:\n{result.stdout}\n{result.stderr}"
    assert_like_sklearn(pd.read_csv(output_csv), model, rows, target, labels)


# --- one real drum server: the multiclass pipeline, good and bad requests -----------------------

@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    model, train = pipeline("multiclass")
    labels = sent_labels(model, "multiclass")
    folder = write_code_dir(tmp_path_factory.mktemp("pipeline_server") / "model", pipeline_onnx(model, train))
    return serve(request, folder, "multiclass", label_args(class_labels=labels)), model, labels


def _assert_served_like_sklearn(drum: DrumServer, model, labels, rows: pd.DataFrame) -> None:
    assert_like_sklearn(predictions(drum.predict_csv(as_sent(rows))), model, rows, "multiclass", labels)


def test_server_predictions_are_named_by_class(server):
    drum, model, labels = server
    _assert_served_like_sklearn(drum, model, labels, request_rows())


def _missing_columns(sent: pd.DataFrame) -> pd.DataFrame:
    return sent.drop(columns=["age", "visits"])


def _blank_int(sent: pd.DataFrame) -> pd.DataFrame:
    return sent.assign(visits=sent["visits"].where(sent.index != 3))


@pytest.mark.parametrize("bad, parts", [
    (_missing_columns, ["Missing column(s) for model input(s): 'age', 'visits'", "Received columns: 'id', 'zone'"]),
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

def test_drum_score_anomaly_with_override(tmp_path):
    model, train = isolation_forest()
    onnx_model, data = sklearn_onnx(model, train), features(50, seed=5)
    input_csv, output_csv = tmp_path / "input.csv", tmp_path / "output.csv"
    data.to_csv(input_csv, index=False)
    result = run_drum_score(write_code_dir(tmp_path / "model", onnx_model), input_csv, output_csv, "anomaly",
                            env={"DR_ONNX_OUTPUT": "scores"})
    assert result.returncode == 0, f"drum score failed:\n{result.stdout}\n{result.stderr}"
    np.testing.assert_allclose(
        pd.read_csv(output_csv)["Predictions"], model.decision_function(data.to_numpy(np.float32)), atol=ATOL
    )
