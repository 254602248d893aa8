"""``read_input_data`` in a real ``drum server`` (two starts) and ``drum score`` (two runs).

* A model folder whose ``custom.py`` imports the three hooks, serving a pipeline whose inputs take
  columns by name: every format predicts as the CSV of the same rows and as scikit-learn; bad
  bodies are 4xx at once and the next request succeeds.
* The environment's own ``default_code`` (artifact-only layout, ``DR_ONNX_MODEL_DIR``) serving a
  model with a string input: zip codes reach it as sent, from CSV and from JSON.
"""

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from drum_helpers import label_args, run_drum_score, serve
from helpers import DEFAULT_CODE, FORMATS, WIDE, assert_probabilities, encoded, predictions
from models import by_name_classifier, write_model, zip_classifier

pytestmark = pytest.mark.drum

HOOKS_PY = "from dr_onnx_hooks import load_model, score, read_input_data\n"
LABELS = label_args("yes", "no")
CONTENT_TYPES = {
    "csv": "text/csv", "csv-bom-crlf": "text/csv", "json-records": "application/json",
    "json-split": "application/json", "json-instances": "application/json",
    "arrow-file": "application/vnd.apache.arrow.file", "arrow-stream": "application/vnd.apache.arrow.stream",
}


def _edit_line(body: bytes, index: int, edit) -> bytes:
    lines = body.split(b"\n")
    lines[index] = edit(lines[index])
    return b"\n".join(lines)


# --- a custom.py importing the three hooks -------------------------------------------------------

@pytest.fixture(scope="module")
def by_name(tmp_path_factory):
    model, onnx, frame = by_name_classifier()
    code_dir = write_model(tmp_path_factory.mktemp("by_name") / "model", onnx)
    (code_dir / "custom.py").write_text(HOOKS_PY)
    return model, frame, code_dir


@pytest.fixture(scope="module")
def server(request, by_name):
    model, frame, code_dir = by_name
    return serve(request, code_dir, "binary", LABELS), model, frame


@pytest.mark.parametrize("fmt", FORMATS + ("mtx",))
def test_every_format_predicts_as_the_csv_and_as_sklearn(server, fmt):
    server, model, frame = server
    rows = frame.iloc[20:45]
    from_csv = predictions(server.post(encoded(rows, "csv"), "text/csv"))
    sent = rows[["f2", "f0", "f3", "f1"]]  # another column order: the inputs take columns by name
    if fmt == "mtx":
        files = {"X": ("x.mtx", encoded(sent, "mtx")), "X.colnames": ("colnames", "\n".join(sent.columns).encode())}
        response = requests.post(server.url + "/predict/", files=files, timeout=60)
    else:
        response = server.post(encoded(sent, fmt), CONTENT_TYPES[fmt])
    got = predictions(response)
    pd.testing.assert_frame_equal(got[from_csv.columns], from_csv, atol=1e-9)
    assert_probabilities(got, model, rows, ["no", "yes"])


@pytest.mark.parametrize(
    "make_body, content_type, status, message",
    [
        (lambda rows: _edit_line(encoded(rows, "csv"), 2, lambda line: line + b",9"), "text/csv", 422,
         "CSV line 3 has 5 fields; the header has 4"),
        (lambda rows: _edit_line(encoded(rows, "csv"), 2, lambda line: b'"' + line), "text/csv", 422,
         "CSV line 3: a quoted field starts here and is never closed"),
        (lambda rows: _edit_line(encoded(rows, "csv"), 1, lambda line: b"\xff" + line), "text/csv", 422,
         "The CSV is not UTF-8: byte 0xff at line 2, byte 1 of the line"),
        (lambda rows: encoded(rows, "json-records")[:-20], "application/json", 422, "The JSON is invalid at line 1"),
        (lambda rows: encoded(rows, "arrow-file")[:-100], "application/vnd.apache.arrow.file", 422,
         "The Arrow IPC file cannot be read"),
        (lambda rows: encoded(rows, "arrow-stream")[:-100], "application/vnd.apache.arrow.stream", 422,
         "The Arrow IPC stream cannot be read"),
        (lambda rows: WIDE + b"\n" + encoded(rows, "csv"), "text/csv", 413,
         "more than 10000 columns, the most accepted (DR_ONNX_MAX_COLUMNS)"),
    ],
    ids=["ragged-csv", "unclosed-quote", "not-utf8", "truncated-json", "truncated-arrow-file",
         "truncated-arrow-stream", "4-million-columns"],
)
def test_bad_body_is_a_prompt_4xx_and_the_next_request_succeeds(server, make_body, content_type, status, message):
    server, model, frame = server
    rows = frame.head(6)
    start = time.monotonic()
    response = server.post(make_body(rows), content_type)
    elapsed = time.monotonic() - start
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers.get("X-Drum-User-Http-Error") == "true"
    assert message in response.json()["message"], response.json()["message"]
    assert elapsed < 2, f"answered after {elapsed:.2f} s"
    assert_probabilities(predictions(server.post(encoded(rows, "csv"), "text/csv")), model, rows, ["no", "yes"])


# --- drum score with the hook --------------------------------------------------------------------

def test_drum_score_reads_csv_through_the_hook(tmp_path, by_name):
    model, frame, code_dir = by_name
    rows = frame.head(30)
    (tmp_path / "in.csv").write_bytes(encoded(rows, "csv"))
    result = run_drum_score(code_dir, tmp_path / "in.csv", tmp_path / "out.csv", "binary", LABELS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_probabilities(pd.read_csv(tmp_path / "out.csv"), model, rows, ["no", "yes"])


def test_drum_score_names_matrix_market_columns_from_the_sparse_column_file(tmp_path, by_name):
    model, frame, code_dir = by_name
    rows = frame.head(30)[["f1", "f3", "f0", "f2"]]
    (tmp_path / "in.mtx").write_bytes(encoded(rows, "mtx"))
    (tmp_path / "columns.txt").write_text("\n".join(rows.columns))
    args = [*LABELS, "--sparse-column-file", str(tmp_path / "columns.txt")]  # extra flags go with the labels
    result = run_drum_score(code_dir, tmp_path / "in.mtx", tmp_path / "out.csv", "binary", args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_probabilities(pd.read_csv(tmp_path / "out.csv"), model, rows, ["no", "yes"])


# --- the environment's default_code, serving an artifact-only folder ----------------------------

@pytest.fixture(scope="module")
def default_code_server(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("default_code")
    model, onnx, frame = zip_classifier()
    code_dir = Path(shutil.copytree(DEFAULT_CODE, root / "code"))
    assert sorted(p.name for p in code_dir.iterdir()) == ["custom.py", "custom_flask.py"]
    model_dir = write_model(root / "artifact", onnx)
    return serve(request, code_dir, "binary", LABELS, env={"DR_ONNX_MODEL_DIR": str(model_dir)}), model, frame


@pytest.mark.parametrize("fmt", ["csv", "json-records"])
def test_default_code_reads_zip_codes_as_sent(default_code_server, fmt):
    server, model, frame = default_code_server
    rows = frame.head(40)
    assert rows["zip"].str.startswith("0").any()
    assert_probabilities(predictions(server.post(encoded(rows, fmt), CONTENT_TYPES[fmt])), model, rows, ["no", "yes"])
