"""Hostile and careless request bodies, in process (issue 12): every failure the caller's data causes
is a short 4xx naming the problem, limits are checked before the work (a compression bomb is refused
before anything is decompressed), and the semantics are explicit (numbers beyond float64, repeated
JSON keys, Arrow timestamps and decimals, complex Matrix Market entries, a CSV cut short).
Cell values stay out of messages unless ``show_values`` (``DR_ONNX_LOG_VALUES``) asks for them."""

import datetime
import decimal
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pytest

from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.inputs import InputFeed, ModelInput
from dr_onnx_hooks.reading import DEFAULT_CELL_BYTES, Limits, RequestReader

MESSAGE_CAP = 5_000
SECRET = "SSN-123-45-6789"


def feed_of(onnx_type: str = "tensor(float)", width: int = 1, show_values: bool = False) -> InputFeed:
    return InputFeed([ModelInput.declared("X", onnx_type, [None, width])], show_values=show_values)


def refused(body: bytes, reader: RequestReader | None = None, feed: InputFeed | None = None) -> DrOnnxError:
    """The error reading ``body`` (then feeding it to ``feed``, if given) raises; short, whatever it is."""
    with pytest.raises(DrOnnxError) as caught:
        frame = (reader or RequestReader())(body)
        if feed is not None:
            feed(frame)
    assert len(str(caught.value)) < MESSAGE_CAP
    return caught.value


def assert_refused(body: bytes, status: int, *words: str, feed: InputFeed | None = None, **reader) -> str:
    error = refused(body, RequestReader(**reader) if reader else None, feed)
    message = str(error)
    assert error.status_code == status, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


def arrow(table: pa.Table, stream: bool = False, compression: str | None = None) -> bytes:
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with (pa.ipc.new_stream if stream else pa.ipc.new_file)(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue()


# --- 1. numbers beyond the input's type: a 422 naming column and row, whatever the format -----------

@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("onnx_type, words", [
    ("tensor(float)", "beyond the range of tensor(float)"),
    ("tensor(double)", "beyond the range of tensor(double)"),
    ("tensor(int64)", "expects tensor(int64): whole numbers"),
])
def test_an_integer_of_401_digits_is_a_422_naming_column_and_row(fmt, onnx_type, words):
    huge = "9" * 401
    body = f'[{{"a": 1}}, {{"a": {huge}}}]' if fmt == "json" else f"a\n1\n{huge}\n"
    message = assert_refused(body.encode(), 422, "Column 'a' holds a whole number of 401 digits at row 2", words,
                             feed=feed_of(onnx_type))
    assert "999" not in message


@pytest.mark.parametrize("fmt", ["json-records", "json-split", "csv"])
def test_an_integer_beyond_pythons_digit_limit_is_a_422_naming_column_and_row(fmt):
    huge = "9" * 5_000
    body = {
        "json-records": f'[{{"a": 1}}, {{"a": -{huge}}}]',
        "json-split": f'{{"columns": ["a"], "data": [[1], [-{huge}]]}}',
        "csv": f"a\n1\n-{huge}\n",
    }[fmt]
    message = assert_refused(body.encode(), 422, "'a'", "at row 2", "beyond the range", feed=feed_of())
    assert ("5000 digits" in message or "5001 characters" in message) and "999" not in message


def test_numbers_out_of_an_inputs_range_are_a_422_from_arrow_too():
    body = arrow(pa.table({"a": pa.array([1, 2**64 - 1], pa.uint64())}))
    assert_refused(body, 422, "Column 'a' holds a whole number of 20 digits at row 2", "tensor(int64)",
                   feed=feed_of("tensor(int64)"))
    body = arrow(pa.table({"a": [1.0, -1e300]}))
    assert_refused(body, 422, "Column 'a' holds a negative whole number of 301 digits at row 2",
                   "beyond the range of tensor(float)", feed=feed_of())


# --- 2. a finite literal beyond float64 is not infinity ----------------------------------------------

@pytest.mark.parametrize("body, where", [
    (b"a,b\n1,2\n3,1e400\n", "Column 'b' holds a number beyond the range of float64 (±1.798e+308) at row 2"),
    (b"a,b\n1,2\n3,-1.5E+309\n", "Column 'b' holds a number beyond the range of float64 (±1.798e+308) at row 2"),
    (b"a,b\n1,2\n3," + b"9" * 310 + b".5\n", "Column 'b' holds a number beyond the range of float64"),
    (b'[{"a": 1, "b": 2}, {"a": 3, "b": 1e400}]', "JSON column 'b' holds a number at row 2, beyond the range"),
    (b'[{"a": 1, "b": Infinity}, {"a": 3, "b": -1e400}]', "JSON column 'b' holds a number at row 2"),
    (b'{"columns": ["a", "b"], "data": [[1, 2], [3, 1e999]]}', "JSON column 'b' holds a number at row 2"),
    (b"%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n2 2 1e400\n",
     "Matrix Market line 4 (row 2, column 2) holds a number beyond the range of float64"),
])
def test_a_finite_number_beyond_float64_is_a_422_not_infinity(body, where):
    message = assert_refused(body, 422, where)
    assert "1e400" not in message and "1e999" not in message


@pytest.mark.parametrize("body", [
    b"a,b\n1,inf\n2,-inf\n3,Infinity\n4,-INF\n5,+infinity\n",
    b'[{"a": 1, "b": Infinity}, {"a": 2, "b": -Infinity}]',
    b"%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 inf\n2 2 -inf\n",
])
def test_infinity_sent_as_such_still_reaches_the_model(body):
    values = RequestReader()(body).to_numpy(dtype=float)
    assert np.isposinf(values).any() and np.isneginf(values).any()


def test_text_beyond_float64_in_a_text_column_is_a_422_at_the_cast():
    # "2x" makes the column text; the first cell refused, in row order, is the one that is not a number
    assert_refused(b"a\n1\n1e400\n2x\n", 422, "Column 'a' holds text of 2 characters at row 3, which is not a number",
                   feed=feed_of())
    for onnx_type in ("tensor(float)", "tensor(double)"):
        with pytest.raises(DrOnnxError, match=rf"Column 'a' holds text of 5 characters at row 2, beyond the range "
                                              rf"of {onnx_type.replace('(', '.').replace(')', '.')}"):
            feed_of(onnx_type)(pd.DataFrame({"a": ["1", "1e400"]}))


def test_a_string_input_keeps_1e400_as_text():
    from dr_onnx_hooks.reading import TextColumns

    frame = RequestReader(text=TextColumns(every=True))(b"a\n1e400\n")
    assert feed_of("tensor(string)")(frame)["X"].tolist() == [["1e400"]]


def test_the_number_check_looks_at_text_only_when_a_parse_made_infinity(monkeypatch):
    calls = []
    original = pd.read_csv

    def counting(*args, **kwargs):
        calls.append(kwargs.get("usecols"))
        return original(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", counting)
    RequestReader()(b"a,b\n1,2\n3,4\n")
    assert calls == [None]  # one parse, no second look
    with pytest.raises(DrOnnxError):
        RequestReader()(b"a,b\n1,2\n3,1e400\n")
    assert calls[-1] == ["b"]  # the one column that holds an infinity, read again as text


@pytest.mark.parametrize("body", [
    b"a,b\n9,1,1e400\n8,2,3\n",  # one more field than the header: pandas makes the first an index
    b"a,\n1,1e400\n",  # an unnamed column
])
def test_the_text_looked_at_again_is_the_cell_that_overflowed(body):
    assert_refused(body, 422, "holds a number beyond the range of float64 (±1.798e+308) at row 1")


# --- 3. a key named twice in a JSON object --------------------------------------------------------

@pytest.mark.parametrize("body, words", [
    (b'[{"a": 1, "b": 2}, {"a": 1, "a": 2}]', "JSON [1] (row 2) names the column 'a' more than once"),
    (b'{"instances": [{"x\\ny": 1, "x\\ny": 2}]}', "JSON \"instances\"[0] (row 1) names the column 'x\\ny'"),
    (b'{"columns": ["a"], "data": [[1]], "columns": ["b"]}', "The JSON object names the key 'columns' more than once"),
])
def test_a_key_named_twice_in_a_json_object_is_a_422_naming_it(body, words):
    message = assert_refused(body, 422, words)
    assert "\n" not in message


def test_a_repeated_key_inside_a_cell_is_refused_as_an_object_cell():
    assert_refused(b'[{"a": {"k": 1, "k": 2}}]', 422, "JSON column 'a' holds an object at row 1")


# --- 4. Arrow: decimals, pandas metadata, compression bombs, cell sizes, types -----------------------

def _decimals(dtype: pa.DataType, units: list[int]) -> pa.Array:
    words = dtype.byte_width // 8
    raw = np.array([[u] + [0] * (words - 1) for u in units], dtype=np.int64).ravel()
    return pa.Array.from_buffers(dtype, len(units), [None, pa.py_buffer(raw.tobytes())])


@pytest.mark.parametrize("dtype, expected", [
    (pa.decimal128(5, -3), [1_000.0, 2_000.0]),
    (pa.decimal128(38, -300), [1e300, 2e300]),
    (pa.decimal128(10, 300), [1e-300, 2e-300]),
])
def test_decimals_with_a_negative_or_oversized_scale_are_read_as_their_value(dtype, expected):
    frame = RequestReader()(arrow(pa.table({"d": _decimals(dtype, [1, 2])})))
    np.testing.assert_allclose(feed_of("tensor(double)")(frame)["X"].ravel(), expected)


def test_a_decimal_beyond_float64_is_a_422_naming_column_and_row():
    body = arrow(pa.table({"d": _decimals(pa.decimal256(76, -400), [0, 1])}))
    assert_refused(body, 422, "Arrow column 'd' (decimal256(76, -400)) holds a number beyond the range of float64",
                   "at row 2")


def test_ordinary_decimals_stay_exact():
    frame = RequestReader()(arrow(pa.table({"d": pa.array([decimal.Decimal("1.50")], pa.decimal128(5, 2))})))
    assert frame["d"].tolist() == [decimal.Decimal("1.50")]


def _with_pandas_metadata(table: pa.Table, metadata: dict) -> pa.Table:
    return table.replace_schema_metadata({b"pandas": json.dumps(metadata).encode()})


HOSTILE_PANDAS = {
    "huge-range-index": {"index_columns": [{"kind": "range", "name": None, "start": 0, "stop": 10**15, "step": 1}],
                         "column_indexes": [], "columns": [], "pandas_version": "2.2.0"},
    "interval-dtype": {"index_columns": [], "column_indexes": [], "pandas_version": "2.2.0", "columns": [
        {"name": "a", "field_name": "a", "pandas_type": "interval", "numpy_type": "interval[int64, right]",
         "metadata": None}]},
    "not-json": None,
    "index-columns-not-a-list": {"index_columns": 7},
}


@pytest.mark.parametrize("name", list(HOSTILE_PANDAS))
def test_pandas_metadata_is_never_trusted(name):
    table = pa.table({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    if HOSTILE_PANDAS[name] is None:
        table = table.replace_schema_metadata({b"pandas": b"{not json"})
    else:
        table = _with_pandas_metadata(table, HOSTILE_PANDAS[name])
    frame = RequestReader()(arrow(table, stream=True))
    assert frame.shape == (2, 2) and frame["a"].tolist() == [1.0, 2.0] and isinstance(frame.index, pd.RangeIndex)


def test_a_frame_written_with_its_index_scores_as_the_frame():
    sent = pd.DataFrame({"a": [1.0, 3.0], "b": [4.0, 6.0]}, index=["x", "z"])  # not a range: stored as a column
    table = pa.Table.from_pandas(sent)
    assert "__index_level_0__" in table.column_names
    frame = RequestReader()(arrow(table))
    assert list(frame.columns) == ["a", "b"] and frame["a"].tolist() == [1.0, 3.0]


def _peak_arrow_memory(body: bytes) -> tuple[str, float]:
    """Read ``body`` in a fresh interpreter: its outcome and the most memory Arrow held meanwhile (MB)."""
    code = (
        "import sys, pyarrow as pa\nfrom dr_onnx_hooks.reading import RequestReader\n"
        "try: outcome = f'read {RequestReader()(sys.stdin.buffer.read()).shape}'\n"
        "except Exception as e: outcome = f'{e.status_code} {e}'\n"
        "print(pa.default_memory_pool().max_memory() / 1e6)\nprint(outcome)"
    )
    done = subprocess.run([sys.executable, "-c", code], input=body, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    peak, outcome = done.stdout.decode().split("\n", 1)
    return outcome.strip(), float(peak)


@pytest.fixture(scope="module")
def bombs():
    """Small zstd bodies that decompress to ~265 MB: 33 million zero rows, one 265 MB text cell, a
    dictionary holding one 265 MB value (the file format: the footer lists the blocks)."""
    rows = pa.table({"z": pa.array(np.zeros(33_000_000, dtype=np.int64))})
    cell = pa.table({"s": ["a" * 265_000_000]})
    values = pa.array(["a" * 265_000_000])
    dictionary = pa.table({"s": pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()), values)})
    made = {
        "rows": arrow(rows, stream=True, compression="zstd"),
        "cell": arrow(cell, stream=True, compression="zstd"),
        "dictionary": arrow(dictionary, compression="zstd"),
    }
    del rows, cell, dictionary, values
    return made


@pytest.mark.parametrize("name, words", [
    ("rows", "The request has 33000000 rows, more than the 1000000 rows accepted (DR_ONNX_MAX_ROWS)"),
    ("cell", "Arrow column 's' declares a buffer of 265000000 bytes once decompressed, more than its 1 rows can need"),
    ("dictionary", "An Arrow dictionary declares a buffer of 265000000 bytes once decompressed"),
])
def test_a_compression_bomb_is_a_413_before_anything_is_decompressed(bombs, name, words):
    body = bombs[name]
    assert len(body) < 20_000
    outcome, peak = _peak_arrow_memory(body)
    assert outcome.startswith("413 ") and words in outcome, outcome
    assert peak < 5, f"Arrow allocated {peak:.1f} MB before refusing"


def test_what_a_compressed_body_decompresses_to_is_bounded_by_8_bytes_a_cell_in_all():
    table = pa.table({"t": ["x" * 1_000] * 1_000})  # 1 MB of text in 1,000 cells, a few KB compressed
    body = arrow(table, compression="zstd")
    assert len(body) < 10_000 and RequestReader()(body).shape == (1_000, 1)
    assert_refused(body, 413, "The Arrow IPC file decompresses to more than 16000 bytes, the most accepted (8 bytes "
                   "for each of the 2000 cells of DR_ONNX_MAX_CELLS)", limits=Limits(cells=2_000))
    assert RequestReader(Limits(cells=2_000))(arrow(table)).shape == (1_000, 1)  # uncompressed: the body is the data


@pytest.mark.parametrize("compression", [None, "zstd", "lz4"])
@pytest.mark.parametrize("dtype", [pa.string(), pa.large_binary(), pa.string_view()])
def test_a_text_cell_over_the_cell_limit_is_a_413_naming_column_and_row(compression, dtype):
    long = "x" * 2_000
    table = pa.table({"n": [1.0, 2.0, 3.0], "t": pa.array(["a", "b", long], pa.string()).cast(dtype)})
    body = arrow(table, stream=True, compression=compression)
    message = assert_refused(body, 413, "Arrow column 't' at row 3 holds 2000 bytes, more than the 1000 bytes accepted "
                             "in one cell (DR_ONNX_MAX_CELL_BYTES)", limits=Limits(cell_bytes=1_000))
    assert "xxxx" not in message
    assert RequestReader(Limits(cell_bytes=2_000))(body).shape == (3, 2)


@pytest.mark.parametrize("body", [
    b"n,t\n1,a\n2," + b"x" * 2_000 + b"\n",
    json.dumps([{"n": 1, "t": "a"}, {"n": 2, "t": "x" * 2_000}]).encode(),
    json.dumps({"columns": ["n", "t"], "data": [[1, "a"], [2, "\u00e9" * 600]]}).encode(),  # 1,200 UTF-8 bytes
])
def test_a_text_cell_over_the_cell_limit_is_a_413_in_csv_and_json(body):
    message = assert_refused(body, 413, "Column 't' at row 2 holds", "more than the 1000 bytes accepted in one cell",
                             limits=Limits(cell_bytes=1_000))
    assert "xxxx" not in message


def test_the_default_cell_limit_is_a_megabyte():
    assert Limits().cell_bytes == DEFAULT_CELL_BYTES == 1_000_000


@pytest.mark.parametrize("dtype", [
    pa.month_day_nano_interval(), pa.list_(pa.int64()), pa.struct([("x", pa.int64())]),
    pa.map_(pa.string(), pa.int64()), pa.run_end_encoded(pa.int32(), pa.int64()),
])
def test_arrow_types_a_model_cannot_be_fed_are_a_422_naming_column_and_type(dtype):
    if pa.types.is_run_end_encoded(dtype):
        column = pa.RunEndEncodedArray.from_arrays(pa.array([2], pa.int32()), pa.array([7]))
    else:
        column = pa.array([None, None], type=dtype)
    body = arrow(pa.table({"ok": [1.0, 2.0], "bad\ncolumn": column}))
    message = assert_refused(body, 422, "Arrow column 'bad\\ncolumn' has type", "only flat columns")
    assert "\n" not in message


# --- 5. Arrow timestamps, dates, times and durations: float64 seconds, whatever the unit -------------

INSTANT = datetime.datetime(2024, 3, 1, 12, 30, 15, tzinfo=datetime.UTC)
EPOCH_SECONDS = INSTANT.timestamp()


@pytest.mark.parametrize("dtype", [pa.timestamp("s"), pa.timestamp("ms"), pa.timestamp("us"), pa.timestamp("ns"),
                                   pa.timestamp("ms", tz="UTC"), pa.timestamp("ns", tz="Europe/Paris")])
def test_a_timestamp_is_seconds_since_the_epoch_whatever_its_unit(dtype):
    column = pa.array([INSTANT, None], pa.timestamp("s", tz="UTC")).cast(dtype)
    frame = RequestReader()(arrow(pa.table({"t": column})))
    values = feed_of("tensor(double)")(frame)["X"].ravel()
    assert values[0] == EPOCH_SECONDS and np.isnan(values[1])


def test_dates_times_and_durations_are_seconds():
    table = pa.table({
        "d32": pa.array([datetime.date(1970, 1, 3)], pa.date32()),
        "d64": pa.array([datetime.date(1970, 1, 3)], pa.date64()),
        "t32": pa.array([datetime.time(1, 2, 3)], pa.time32("ms")),
        "t64": pa.array([datetime.time(1, 2, 3)], pa.time64("ns")),
        "dur": pa.array([datetime.timedelta(minutes=2)], pa.duration("us")),
        "dict": pa.array([INSTANT], pa.timestamp("ms", tz="UTC")).dictionary_encode(),
    })
    frame = RequestReader()(arrow(table, stream=True))
    assert frame.iloc[0].tolist() == [172_800.0, 172_800.0, 3_723.0, 3_723.0, 120.0, EPOCH_SECONDS]
    assert all(dtype == np.float64 for dtype in frame.dtypes)


# --- 6. complex Matrix Market entries ------------------------------------------------------------

def test_complex_matrix_market_values_are_a_422_naming_the_field():
    body = b"%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1.5 2.5\n"
    assert_refused(body, 422, "complex values (field 'complex' in its header line)")


# --- 7. a CSV cut short --------------------------------------------------------------------------

@pytest.mark.parametrize("body, words", [
    (b"a,b,c\n1,2,3\n4,5", "CSV line 3, the last, has 2 field(s) and no line break; the header has 3"),
    (b"\n\na,b,c\r\n1,2,3\r\n4", "CSV line 5, the last, has 1 field(s)"),
    (b"a,b,c\n1,2,3\n4,5,", "CSV line 3, the last, ends with an empty field and no line break"),
])
def test_a_csv_whose_last_line_lacks_fields_and_its_line_break_is_cut_short(body, words):
    assert_refused(body, 422, words, "the body looks cut short. Send the whole body, ending with a line break.")


@pytest.mark.parametrize("body", [
    b"a,b,c\n1,2,3\n4,5,6",  # whole fields, no final line break: accepted (cannot be told from a cut)
    b"a\n1\n2",  # one column: never short
    b'a,b\n1,"x\ny"',  # a quoted field ends the body: not counted
    b"a,b\n1,2\n",
    b"a,b\n1,\n",  # a missing last value, then the line break: whole
])
def test_a_csv_without_its_final_line_break_is_read_when_it_may_be_whole(body):
    assert len(RequestReader()(body)) >= 1


# --- 8. no cell value in messages unless asked; names escaped and capped ------------------------------

@pytest.mark.parametrize("onnx_type", ["tensor(float)", "tensor(int64)", "tensor(bool)"])
def test_a_refused_cell_is_named_by_row_column_kind_and_length_not_its_value(onnx_type):
    frame = RequestReader()(f"id,a\n1,2\n2,{SECRET}\n".encode())
    feed = InputFeed([ModelInput.declared("X", onnx_type, [None, 2])])
    with pytest.raises(DrOnnxError) as caught:
        feed(frame)
    message = str(caught.value)
    assert "Column 'a' holds text of 15 characters at row 2" in message and SECRET not in message
    assert "123" not in message


def test_with_show_values_the_value_is_shown_quoted_and_capped():
    frame = pd.DataFrame({"a": ["1", SECRET, "x" * 100_000]})
    with pytest.raises(DrOnnxError) as caught:
        feed_of(show_values=True)(frame)
    assert f"Column 'a' holds text of 15 characters, '{SECRET}', at row 2" in str(caught.value)
    with pytest.raises(DrOnnxError) as caught:
        feed_of(show_values=True)(frame.iloc[[2]])
    message = str(caught.value)
    assert "text of 100000 characters, 'xxxxxxxx" in message and "… (100000 characters)" in message
    assert len(message) < 500


def test_with_show_values_a_number_beyond_float64_is_shown_by_the_reader():
    message = assert_refused(b"a\n1e400\n", 422, "at row 1 ('1e400')", show_values=True)
    assert "1e400" in message
    assert "'1e400'" in assert_refused(b'[{"a": 1e400}]', 422, "at row 1", show_values=True)


def test_names_in_messages_are_escaped_and_capped():
    names = [f"col\n{i}" + "n" * 10_000 for i in range(3)]
    message = assert_refused(json.dumps([dict.fromkeys(names, "x")]).encode(), 422,
                             feed=InputFeed([ModelInput.declared("in\nput", "tensor(float)", [None, 3])]))
    assert "\n" not in message and "'col\\n0" in message and "(10005 characters)" in message
    assert "model input 'in\\nput'" in message
    feed = InputFeed([ModelInput.declared("X", "tensor(float)", [None, 2])])
    wide = pd.DataFrame(np.zeros((1, 3)), columns=names)
    with pytest.raises(DrOnnxError) as caught:
        feed(wide)
    assert len(str(caught.value)) < 2_000 and "\n" not in str(caught.value)


def test_ten_thousand_long_column_names_give_a_short_message():
    names = [f"c{i}_" + "n" * 1_000 for i in range(10_000)]
    body = (",".join(names) + "\n" + ",".join(["1"] * 10_000) + "\n").encode()
    message = assert_refused(body, 422, "expects 4 column(s) per row, received 10000",
                             feed=InputFeed([ModelInput.declared("X", "tensor(float)", [None, 4])]))
    assert "… and 9980 more" in message


# --- malformed Arrow metadata (found by fuzzing): a 422, never a 500 or an allocation it declares ------

def test_an_arrow_column_name_that_is_not_utf8_is_a_422():
    body = arrow(pa.table({"zzqq": [1.0]}), stream=True).replace(b"zzqq", b"\xff\xfeqq")
    assert_refused(body, 422, "The Arrow IPC stream cannot be read", "utf-8")


def test_a_declared_variadic_buffer_count_builds_nothing_of_its_size():
    from dr_onnx_hooks.reading import _buffer_bounds, _Layout

    views = _Layout("v", (("bits", 0), ("fixed", 16)), views=True)
    assert _buffer_bounds([views], [10**15], 3) == [(-1, "generic", 0)] * 3
    assert _buffer_bounds([views], [1], 3) == [(0, "bits", 0), (0, "fixed", 16), (0, "data", 0)]
