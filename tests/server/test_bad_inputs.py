"""The bad-input matrix: a real ``drum server`` per kind of model, set up as the environment sets
up an artifact-only folder (its default ``custom.py``, ``DR_ONNX_MODEL_DIR``). Each bad request
gets the status and message below; a good request right after it still gets correct predictions.

Statuses: 4xx whenever the caller's data is at fault; 422 with "ERROR: Samples should be provided
as..." is DRUM's own answer to a body it never hands to the hooks (empty body, a form, a multipart
field not named ``X``). Choices made here (README, *Operations*): ``inf``/``-inf`` reach a float
model as sent; a header without rows answers 200 with no predictions; a single-tensor model reads
columns by position, so renamed columns are accepted (a multi-input model reads them by name).
"""

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import requests

from drum_helpers import DrumServer, label_args, serve
from helpers import ATOL, DEFAULT_CODE, arrow_bytes, csv_bytes, predictions, sklearn_input, sklearn_proba
from models import classifier, features, mixed_frame, pipeline, pipeline_onnx, regressor, sklearn_onnx, write_model

pytestmark = pytest.mark.drum

CSV = "text/csv"
HEADER = b"f0,f1,f2,f3\n"


@dataclass
class Served:
    server: DrumServer
    model: object
    good: pd.DataFrame
    labels: tuple

    def post(self, body: bytes, content_type: str | None = CSV, **kwargs) -> requests.Response:
        return self.server.post(body, content_type, timeout=120, **kwargs)

    def expected(self, rows: pd.DataFrame) -> pd.DataFrame:
        if not self.labels:
            return pd.DataFrame({"Predictions": self.model.predict(sklearn_input(self.model, rows))})
        return sklearn_proba(self.model, rows)

    def assert_predicts(self, response: requests.Response, rows: pd.DataFrame) -> None:
        got = predictions(response)
        expected = self.expected(rows)
        assert len(got) == len(rows) and sorted(got.columns) == sorted(expected.columns)
        for column in expected.columns:
            np.testing.assert_allclose(got[column], expected[column], rtol=1e-4, atol=ATOL, err_msg=column)


def _serve(request, tmp_path_factory, name: str, model_bytes: bytes, target: str, labels: list) -> DrumServer:
    """The environment's ``default_code`` serving an artifact-only folder, as the image does."""
    base = tmp_path_factory.mktemp(name)
    write_model(base / "model", model_bytes)
    shutil.copytree(DEFAULT_CODE, base / "code")
    return serve(request, base / "code", target, labels, env={"DR_ONNX_MODEL_DIR": str(base / "model")}, timeout=90)


@pytest.fixture(scope="module")
def served(request, tmp_path_factory):
    binary, train = classifier(("no", "yes"))
    multiclass, _ = classifier(("ant", "cat", "dog"), kind="rf")
    reg, train_r = regressor()
    multi, frame = pipeline("binary")
    return {
        "binary": Served(_serve(request, tmp_path_factory, "binary", sklearn_onnx(binary, train), "binary",
                                label_args("yes", "no")), binary, features(5, seed=1), ("no", "yes")),
        "multiclass": Served(_serve(request, tmp_path_factory, "multiclass", sklearn_onnx(multiclass, train),
                                    "multiclass", label_args(class_labels=["dog", "ant", "cat"])),
                             multiclass, features(5, seed=2), ("ant", "cat", "dog")),
        "regression": Served(_serve(request, tmp_path_factory, "regression", sklearn_onnx(reg, train_r),
                                    "regression", []), reg, features(5, seed=3), ()),
        "multi-input": Served(_serve(request, tmp_path_factory, "multi", pipeline_onnx(multi, frame), "binary",
                                     label_args("yes", "no")), multi, mixed_frame(6, seed=4), ("no", "yes")),
    }


def _mtx() -> dict:
    return {"files": {"X": ("x.mtx", b"%%MatrixMarket matrix coordinate real general\n2 4 2\n1 1 1.5\n2 4 2.0\n"),
                      "X.colnames": ("names", b"f0\nf1\nf2\nf3\n")}}


@dataclass
class Case:
    model: str
    send: Callable[[Served], requests.Response]
    status: int
    message: str = ""  # part of the answer's message; "" for 200
    seconds: float = 10.0  # answered within


ROWS = features(2, seed=9)
MIXED = mixed_frame(3, seed=7)
CASES = {
    "empty body": Case("binary", lambda s: s.post(b""), 422, "Samples should be provided as"),
    "blank body": Case("binary", lambda s: s.post(b"\n \n"), 422, "The request body is empty"),
    "header only": Case("binary", lambda s: s.post(HEADER), 200),
    "form content type": Case("binary", lambda s: s.post(csv_bytes(ROWS), "application/x-www-form-urlencoded"),
                              422, "Samples should be provided as"),
    "no content type": Case("binary", lambda s: s.post(csv_bytes(ROWS), None), 200),
    "JSON body": Case("binary", lambda s: s.post(ROWS.to_json(orient="records").encode(), "application/json"), 200),
    "truncated JSON": Case("binary", lambda s: s.post(b'[{"f0": 1.0, "f1"', "application/json"), 422,
                           "The JSON is invalid at line 1"),
    "ragged rows": Case("binary", lambda s: s.post(HEADER + b"1,2,3,4\n1,2,3,4,5\n"), 422, "CSV line 3 has 5 fields"),
    "unclosed quote": Case("binary", lambda s: s.post(HEADER + b'1,2,"3,4\n'), 422, "CSV"),
    "missing column": Case("binary", lambda s: s.post(csv_bytes(ROWS.drop(columns="f3"))), 422,
                           "expects 4 column(s) per row, received 3: 'f0', 'f1', 'f2'"),
    "extra column": Case("binary", lambda s: s.post(csv_bytes(ROWS.assign(id=[1, 2]))), 422,
                         "expects 4 column(s) per row, received 5: 'f0', 'f1', 'f2', 'f3', 'id'"),
    "renamed columns": Case("binary", lambda s: s.post(csv_bytes(ROWS.set_axis(list("abcd"), axis=1))), 200),
    "text in a numeric column": Case("binary", lambda s: s.post(HEADER + b"1,2,abc,4\n"), 422,
                                     "Column 'f2' holds text of 3 characters at row 1, which is not a number"),
    "empty cell (NaN)": Case("binary", lambda s: s.post(HEADER + b"1,2,,4\n"), 422,
                             "Row 1 has missing or infinite values in f2"),
    "empty string": Case("binary", lambda s: s.post(HEADER + b'1,"",3,4\n'), 422,
                         "Row 1 has missing or infinite values in f1"),
    "inf": Case("binary", lambda s: s.post(HEADER + b"1,2,inf,4\n"), 200),
    "-inf": Case("binary", lambda s: s.post(HEADER + b"1,2,-inf,4\n"), 200),
    "number too large for float": Case(
        "binary", lambda s: s.post(HEADER + b"1,2,1e300,4\n"), 422,
        "Column 'f2' holds a whole number of 301 digits at row 1, beyond the range of tensor(float)"),
    "single column": Case("binary", lambda s: s.post(b"f0\n1\n2\n"), 422,
                          "expects 4 column(s) per row, received 1: 'f0'"),
    "duplicate column names": Case("binary", lambda s: s.post(b"f0,f0,f2,f3\n1,2,3,4\n"), 422,
                                   "Column name(s) 'f0' appear more than once"),
    "non-UTF-8 bytes": Case("binary", lambda s: s.post(HEADER + b"1,2,\xff\xfe,4\n"), 422, "UTF-8"),
    "50 MB body": Case("binary", lambda s: s.post(HEADER + b"1.5,2.5,3.5,4.5\n" * 3_200_000), 413,
                       "more than the 1000000 rows accepted (DR_ONNX_MAX_ROWS)", seconds=15),
    "4-million-column header": Case("binary", lambda s: s.post(b",".join([b"c"] * 4_000_000) + b"\n"), 413,
                                    "more than 10000 columns", seconds=5),
    "multipart field not X": Case("binary", lambda s: s.post(b"", None, files={"Y": ("x.csv", csv_bytes(ROWS))}), 422,
                                  "Samples should be provided as"),
    "sparse text/mtx": Case("binary", lambda s: s.post(b"", None, **_mtx()), 200),
    "truncated Arrow": Case("binary", lambda s: s.post(arrow_bytes(ROWS)[:-40], "application/vnd.apache.arrow.file"),
                            422, "The Arrow IPC file cannot be read"),
    "multiclass: text": Case("multiclass", lambda s: s.post(HEADER + b"1,x,3,4\n"), 422,
                             "Column 'f1' holds text of 1 character at row 1, which is not a number"),
    "multiclass: missing column": Case("multiclass", lambda s: s.post(b"f0,f1\n1,2\n"), 422, "received 2: 'f0', 'f1'"),
    "multiclass: NaN (trees take it)": Case("multiclass", lambda s: s.post(HEADER + b"1,,3,4\n"), 200),
    "regression: text": Case("regression", lambda s: s.post(HEADER + b"1,2,3,four\n"), 422,
                             "Column 'f3' holds text of 4 characters at row 1, which is not a number"),
    "regression: extra column": Case("regression", lambda s: s.post(csv_bytes(ROWS.assign(y=[0, 1]))), 422,
                                     "received 5"),
    "multi-input: missing columns": Case(
        "multi-input", lambda s: s.post(csv_bytes(MIXED.drop(columns=["age", "zone"]))), 422,
        "Missing column(s) for model input(s): 'zone', 'age'"),
    "multi-input: NaN in an int64 input": Case(
        "multi-input", lambda s: s.post(csv_bytes(MIXED.assign(visits=[1, None, 3]))), 422,
        "Column 'visits' holds a missing value at row 2; model input 'visits' expects tensor(int64)"),
    "multi-input: number too large for int64": Case(
        "multi-input", lambda s: s.post(csv_bytes(MIXED.assign(visits=[1, 2, 1e20]))), 422,
        "Column 'visits' holds a whole number of 21 digits at row 3"),
    "multi-input: text in a float input": Case(
        "multi-input", lambda s: s.post(csv_bytes(MIXED.assign(age=["40", "old", "50"]))), 422,
        "Column 'age' holds text of 3 characters at row 2, which is not a number"),
    "multi-input: reordered, extra and upper-case columns": Case(
        "multi-input", lambda s: s.post(csv_bytes(MIXED.rename(columns={"age": "AGE"}).assign(id=[1, 2, 3])[::-1]
                                                  .iloc[:, ::-1].iloc[::-1])), 200),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(served, name):
    case = CASES[name]
    target = served[case.model]
    started = time.monotonic()
    response = case.send(target)
    elapsed = time.monotonic() - started
    assert response.status_code == case.status, f"{response.status_code}: {response.text[:500]}"
    assert elapsed < case.seconds
    if case.status != 200:
        assert case.message in response.json()["message"]
    assert target.server.alive()
    target.assert_predicts(target.post(csv_bytes(target.good)), target.good)


def test_accepted_odd_inputs_predict_what_the_model_predicts(served):
    binary = served["binary"]
    renamed = ROWS.set_axis(list("abcd"), axis=1)
    binary.assert_predicts(binary.post(csv_bytes(renamed)), ROWS)
    binary.assert_predicts(binary.post(ROWS.to_json(orient="records").encode(), "application/json"), ROWS)
    binary.assert_predicts(binary.post(csv_bytes(ROWS), None), ROWS)
    # scikit-learn refuses inf; the largest float32 saturates the logistic function the same way.
    infinite = pd.DataFrame({"f0": [1.0], "f1": [2.0], "f2": [np.finfo(np.float32).max], "f3": [4.0]})
    binary.assert_predicts(binary.post(HEADER + b"1,2,inf,4\n"), infinite)
    header_only = binary.post(HEADER)
    assert header_only.status_code == 200 and header_only.json()["predictions"] == []
    multi = served["multi-input"]
    renamed_extra_reordered = MIXED.rename(columns={"age": "AGE"}).assign(id=[1, 2, 3]).iloc[:, ::-1]
    multi.assert_predicts(multi.post(csv_bytes(renamed_extra_reordered)), MIXED)
    # onnxruntime's tree ensemble routes NaN by its own rule, not scikit-learn's, so only the shape of
    # the answer is checked here: labelled probabilities that sum to 1.
    answer = served["multiclass"].post(HEADER + b"1,,3,4\n")
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["predictions"]
    assert sorted(row) == ["ant", "cat", "dog"] and abs(sum(row.values()) - 1) < 1e-9
