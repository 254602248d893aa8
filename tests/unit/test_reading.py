"""The request reader behind ``read_input_data``: formats recognised from the bytes, 422s that say
what and where, 413s before the expensive parse, and string-input columns kept as sent."""

import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from datarobot_drum.drum.enum import TargetType
from datarobot_drum.drum.utils.structured_input_read_utils import StructuredInputReadUtils
from onnx import TensorProto

from dr_onnx_hooks import load_model, read_input_data, score
from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.inputs import InputFeed, ModelInput
from dr_onnx_hooks.reading import Limits, RequestReader, TextColumns, name_sparse_columns
from helpers import ATOL, FORMATS, WIDE, arrow_bytes, encoded, sklearn_proba
from models import by_name_classifier, features, identity_graph, write_model, zip_classifier

MTX_BANNER = b"%%MatrixMarket matrix coordinate real general\n"


def refused(body: bytes, reader: RequestReader | None = None) -> DrOnnxError:
    with pytest.raises(DrOnnxError) as caught:
        (reader or RequestReader())(body)
    return caught.value


# --- formats -------------------------------------------------------------------------------------

MIXED = pd.DataFrame({
    "f0": [0.5, -1.25, 3.0000001, np.nan], "n": [1, 2, 3, 4], "city": ["Paris", "Lyon", None, "02134"],
    "ok": [True, False, True, True],
})


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_the_frame_sent(fmt):
    got = RequestReader()(encoded(MIXED, fmt))
    assert list(got.columns) == list(MIXED.columns)
    np.testing.assert_array_equal(got["f0"], MIXED["f0"])
    assert got["n"].tolist() == [1, 2, 3, 4] and got["ok"].tolist() == [True, False, True, True]
    city = got["city"].tolist()
    assert city[:2] == ["Paris", "Lyon"] and pd.isna(city[2]) and city[3] == "02134"


def test_matrix_market_is_a_sparse_frame_of_positional_columns():
    values = features(6, 3)
    got = RequestReader()(encoded(values, "mtx"))
    assert all(isinstance(t, pd.SparseDtype) for t in got.dtypes) and isinstance(got.columns, pd.RangeIndex)
    np.testing.assert_array_equal(got.sparse.to_dense().to_numpy(), values.to_numpy())


@pytest.mark.parametrize(
    "body",
    [b"a,b,c\n1,2.5,x\n3,,NA\n", b"a\n1\n\n2\n", b"\xef\xbb\xbfa,b\r\n1,2\r\n3,4\r\n", b"a,b\r1,null\r2,3\r",
     b'"x, y",z\n"1\n2",3\n', b"id,v\n007,1e3\n12345678901234567890,-0\n"],
    ids=["na-words", "one-column-blank-line", "bom-crlf", "cr", "quoted", "big-ids"],
)
def test_csv_without_string_inputs_reads_as_drums_own_parser(body):
    expected = StructuredInputReadUtils.read_structured_input_data_as_df(body, None)
    pd.testing.assert_frame_equal(RequestReader()(body), expected)


# --- malformed bodies: 422, saying what and where --------------------------------------------------

@pytest.mark.parametrize(
    "body, message",
    [
        (b"a,b,c\n1,2,3\n4,5,6,7\n", "CSV line 3 has 4 fields; the header has 3"),
        (b"\n\r\na,b\r\n1,2\r\n3,4,5\r\n", "CSV line 5 has 3 fields; the header has 2"),
        (b'a,b\n1,2\n3,"4\n5,6\n', "CSV line 3: a quoted field starts here and is never closed"),
        (b"a,b\n1,2\n3,caf\xe9\n", "The CSV is not UTF-8: byte 0xe9 at line 3, byte 6 of the line"),
        (b'[{"a": 1}, {"a": 2', "The JSON is invalid at line 1, column 19 (character 18)"),
        (b'{"columns": ["a"],\n "data": [[1], [2, 3]]}', 'JSON "data"[1] (row 2) has 2 values; "columns" names 1'),
        (b'{"columns": [1], "data": []}', 'JSON "columns" must be an array of column names'),
        (b'[{"a": 1}, [2]]', "JSON [1] is an array; each record (row 2) must be an object"),
        (b'{"instances": {"a": 1}}', 'JSON "instances" must be an array of records; got an object'),
        (b'{"rows": []}', "got an object with keys 'rows'"),
        (b'[{"a": 1}, {"a": {"b": 2}}]', "JSON column 'a' holds an object at row 2"),
        (b"[" * 100_000, "nests arrays or objects too deeply"),
        (b" \r\n\t", "The request body is empty"),
        (MTX_BANNER + b"3 3 2\n1 1 x\n2 2 1\n", "Line 3: Invalid floating-point value"),
        (MTX_BANNER + b"3 3 90000000\n1 1 1\n", "declares 90000000 entries"),
        (MTX_BANNER + b"% no size\n", "has no size line"),
    ],
    ids=["ragged", "ragged-after-blank-lines", "unclosed-quote", "not-utf8", "truncated-json", "split-ragged",
         "split-column-names", "record-not-object", "instances-not-array", "unknown-json", "nested-cell",
         "deep-json", "blank", "mtx-value", "mtx-truncated", "mtx-no-size"],
)
def test_malformed_body_is_a_422_that_says_what_and_where(body, message):
    error = refused(body)
    assert error.status_code == 422 and message in str(error), str(error)


@pytest.mark.parametrize("fmt", ["arrow-file", "arrow-stream"])
@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_arrow_is_a_422(fmt, keep):
    body = encoded(MIXED, fmt)
    error = refused(body[: int(len(body) * keep)])
    assert error.status_code == 422 and f"The Arrow IPC {fmt.split('-')[1]} cannot be read" in str(error), str(error)


def test_nested_arrow_column_is_a_422_naming_it():
    body = arrow_bytes(pa.table({"a": [1, 2], "tags": [[1], [2, 3]]}), stream=True)
    assert "Arrow column 'tags' has type list<item: int64>" in str(refused(body))


def _arrow_with_bad_offsets() -> bytes:
    """A string column whose third value ends a million bytes past its data."""
    body = bytearray(arrow_bytes(pa.table({"s": ["aa", "bbb", "c", "dddd"]}), stream=True))
    offsets = body.find(struct.pack("<5i", 0, 2, 5, 6, 10))
    body[offsets + 8:offsets + 12] = struct.pack("<i", 10**6)
    return bytes(body)


MTX_HEAD = MTX_BANNER + b"2 2 2\n1 1 1\n"


@pytest.mark.parametrize(
    "body, outcome",
    [
        (MTX_HEAD + b"2 2 1\x005\n", "422 The Matrix Market body holds a NUL byte at line 4, byte 6 of the line"),
        (MTX_HEAD + b"2 2 4.5x", "read (2, 2)"),
        (MTX_HEAD + b"2 2 4.5\r", "read (2, 2)"),
        (_arrow_with_bad_offsets(), "422 The Arrow IPC stream cannot be read: Column 0: In chunk 0: Invalid: Offset"),
    ],
    ids=["mtx-nul", "mtx-unterminated-last-line", "mtx-cr-last-line", "arrow-offsets-out-of-bounds"],
)
def test_bodies_that_crash_the_parsers_underneath_are_read_or_refused(body, outcome):
    """In a subprocess: unguarded, scipy's mmread and pyarrow's to_pandas segfault on these, killing the worker."""
    code = (
        "import sys\nfrom dr_onnx_hooks.reading import RequestReader\n"
        "try: print('read', RequestReader()(sys.stdin.buffer.read()).shape)\n"
        "except Exception as e: print(e.status_code, e)"
    )
    done = subprocess.run([sys.executable, "-c", code], input=body, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().startswith(outcome), done.stdout.decode()


# --- limits: 413 before the expensive parse ------------------------------------------------------

@pytest.mark.parametrize(
    "body",
    [WIDE + b"\n1\n", b"\n \n" + WIDE + b"\n", b'"a\nb",' + WIDE + b"\n", b'x",' + WIDE, b'"' + WIDE],
    ids=["one-line", "after-blank-lines", "quoted-line-break-first", "quote-inside-a-field", "unclosed-quote"],
)
def test_wide_header_is_refused_fast(body):
    start = time.perf_counter()
    error = refused(body)
    elapsed = time.perf_counter() - start
    assert error.status_code == 413 and "more than 10000 columns" in str(error) and "DR_ONNX_MAX_COLUMNS" in str(error)
    assert elapsed < 0.5, f"{elapsed:.2f} s"


def test_quoted_header_names_hold_commas_and_line_breaks():
    body = b'"a,1","b\r\n2",c\r\n1,2,3\r\n'
    assert list(RequestReader(Limits(columns=3))(body).columns) == ["a,1", "b\r\n2", "c"]


@pytest.mark.parametrize(
    "body, limits, message",
    [
        (b"a\n" + b"1\n" * 11, Limits(rows=10),
         "11 rows or more, more than the 10 rows accepted (DR_ONNX_MAX_ROWS)"),
        (b"a,b,c\n1,2,3\n", Limits(columns=2), "more than 2 columns"),
        (json.dumps([{"a": 1}] * 11).encode(), Limits(rows=10), "11 rows, more than the 10 rows accepted"),
        (json.dumps([{"a": 1}, {"b": 1}, {"c": 1}]).encode(), Limits(columns=2), "more than 2 columns"),
        (MTX_BANNER + b"1000000 10000 0\n", Limits(),
         "1000000 rows x 10000 columns = 10000000000 cells, more than the 50000000 accepted (DR_ONNX_MAX_CELLS)"),
    ],
    ids=["csv-rows", "csv-columns", "json-rows", "json-union-of-keys", "mtx-declared-cells"],
)
def test_over_a_limit_is_a_413(body, limits, message):
    error = refused(body, RequestReader(limits))
    assert error.status_code == 413 and message in str(error), str(error)


def test_limits_come_from_settings_or_runtime_parameters(monkeypatch):
    monkeypatch.setenv("DR_ONNX_MAX_COLUMNS", "7")
    monkeypatch.setenv("MLOPS_RUNTIME_PARAM_DR_ONNX_MAX_ROWS", json.dumps({"type": "numeric", "payload": 20.0}))
    assert Limits.read(os.environ) == Limits(columns=7, rows=20)
    monkeypatch.setenv("DR_ONNX_MAX_CELLS", "lots")
    with pytest.raises(DrOnnxError, match="DR_ONNX_MAX_CELLS must be a whole number >= 1; got 'lots'") as caught:
        Limits.read(os.environ)
    assert caught.value.status_code == 500


def test_bad_limit_setting_fails_the_load(tmp_path, monkeypatch):
    monkeypatch.setenv("DR_ONNX_MAX_ROWS", "0")
    with pytest.raises(DrOnnxError, match="DR_ONNX_MAX_ROWS must be a whole number >= 1"):
        load_model(str(write_model(tmp_path, identity_graph(TensorProto.FLOAT))))


# --- string inputs: their columns are read as text -----------------------------------------------

def feed_of(*inputs) -> InputFeed:
    return InputFeed([ModelInput.declared(*i) for i in inputs])


def test_text_columns_are_the_string_inputs_of_the_model():
    assert not TextColumns.of(feed_of(("X", "tensor(float)", [None, 4])))
    assert TextColumns.of(feed_of(("X", "tensor(string)", [None, 2]))) == TextColumns(every=True)
    by_name = TextColumns.of(feed_of(("Zip", "tensor(string)", [None, 1]), ("x", "tensor(float)", [None, 1])))
    assert "zip" in by_name and "ZIP" in by_name and "x" not in by_name


def test_string_input_columns_keep_codes_and_words_as_sent_other_columns_are_inferred():
    body = b"ZIP,x,n\n02134,NA,07\nNA,null,\n,1.5,3\n"
    got = RequestReader(text=TextColumns(names=frozenset({"zip"})))(body)
    assert got["ZIP"].tolist()[:2] == ["02134", "NA"] and pd.isna(got["ZIP"].iloc[2])  # only "" is missing
    assert got["x"].dtype == np.float64 and got["x"].isna().tolist() == [True, True, False]
    assert got["n"].tolist()[0] == 7  # not a string input: inferred, as DRUM does
    assert StructuredInputReadUtils.read_structured_input_data_as_df(body, None)["ZIP"].tolist()[0] == 2134


def test_load_model_tells_read_input_data_which_columns_are_text(tmp_path):
    body = b"a,b\n007,NA\n"
    load_model(str(write_model(tmp_path / "text", identity_graph(TensorProto.STRING))))
    assert read_input_data(body).iloc[0].tolist() == ["007", "NA"]
    load_model(str(write_model(tmp_path / "numbers", identity_graph(TensorProto.FLOAT))))
    assert read_input_data(body)["a"].iloc[0] == 7


def test_zip_codes_score_like_sklearn_from_csv(tmp_path):
    model, onnx, frame = zip_classifier()
    plan = load_model(str(write_model(tmp_path, onnx)))
    rows = frame.head(40)
    got = score(read_input_data(encoded(rows, "csv")), plan, target_type=TargetType.BINARY,
                positive_class_label="yes", negative_class_label="no")
    for label, expected in sklearn_proba(model, rows).items():
        np.testing.assert_allclose(got[label], expected, atol=ATOL)


# --- Matrix Market column names ------------------------------------------------------------------

def test_score_names_matrix_market_columns_with_the_request_colnames(tmp_path):
    model, onnx, frame = by_name_classifier()
    plan = load_model(str(write_model(tmp_path, onnx)))
    rows = frame.head(20)[["f3", "f1", "f0", "f2"]]  # any order: the inputs take columns by name
    got = score(read_input_data(encoded(rows, "mtx")), plan, target_type=TargetType.BINARY,
                positive_class_label="yes", negative_class_label="no", sparse_colnames=list(rows.columns))
    for label, expected in sklearn_proba(model, rows).items():
        np.testing.assert_allclose(got[label], expected, atol=ATOL)


def test_sparse_colnames_name_only_a_positional_sparse_frame():
    frame = RequestReader()(encoded(features(3, 2), "mtx"))
    assert list(name_sparse_columns(frame, ["a", "b"]).columns) == ["a", "b"]
    assert name_sparse_columns(frame, None) is frame
    named = frame.set_axis(["x", "y"], axis=1)  # DRUM's own reader already named it
    assert name_sparse_columns(named, ["a", "b"]) is named
    dense = pd.DataFrame(np.ones((2, 2)))
    assert name_sparse_columns(dense, ["a", "b"]) is dense
    with pytest.raises(DrOnnxError, match="X.colnames names 3 columns but the Matrix Market data has 2"):
        name_sparse_columns(frame, ["a", "b", "c"])


# --- exports -------------------------------------------------------------------------------------

def test_read_input_data_is_imported_by_name_and_by_star():
    for line in ("from dr_onnx_hooks import load_model, read_input_data, score", "from dr_onnx_hooks import *"):
        namespace = {}
        exec(line, namespace)
        assert namespace["read_input_data"] is read_input_data


@pytest.mark.parametrize("body", [
    b"f0,f1,f0\n1,2,3\n",
    b'{"columns": ["f0", "f1", "f0"], "data": [[1, 2, 3]]}',
])
def test_a_column_named_twice_is_refused(body):
    with pytest.raises(DrOnnxError, match=r"Column name\(s\) 'f0' appear more than once") as caught:
        RequestReader()(body)
    assert caught.value.status_code == 422


def test_a_header_that_merely_looks_like_a_renamed_duplicate_is_fine():
    assert RequestReader()(b"f0,f0.1\n1,2\n").columns.tolist() == ["f0", "f0.1"]


def test_arrow_columns_named_twice_are_refused():
    body = arrow_bytes(pa.table([pa.array([1.0]), pa.array([2.0])], names=["a", "a"]))
    with pytest.raises(DrOnnxError, match=r"'a' appear more than once"):
        RequestReader()(body)
