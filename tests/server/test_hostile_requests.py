"""Hostile and careless requests through a real ``drum server`` (issue 12): each is answered with a
short 4xx naming the problem (or, where the request is well formed, a correct prediction), no cell
value of it reaches the server's log, and the server predicts correctly right after.

The server is set up as the environment serves an artifact-only folder: its default ``custom.py``
(our reader) and ``custom_flask.py`` (the body guard), the model in ``DR_ONNX_MODEL_DIR``.
"""

import functools
import io
import json
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pytest
import requests

from drum_helpers import DrumServer, label_args, serve, write_code_dir
from helpers import ATOL, DEFAULT_CODE, csv_bytes, predictions, sklearn_proba
from models import classifier, features, sklearn_onnx, write_model

pytestmark = pytest.mark.drum

MESSAGE_CAP = 5_000
SECRET = "SSN-123-45-6789"
HEADER = b"f0,f1,f2,f3\n"
ARROW_FILE = "application/vnd.apache.arrow.file"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
GOOD = features(4, seed=11)


@dataclass
class Served:
    server: DrumServer
    model: object

    def post(self, body: bytes, content_type: str | None = "text/csv", **kwargs) -> requests.Response:
        return self.server.post(body, content_type, timeout=120, **kwargs)

    def log(self) -> str:
        return self.server.log_path.read_text(errors="replace")

    def assert_predicts(self, response: requests.Response, rows: pd.DataFrame) -> None:
        got = predictions(response)
        expected = sklearn_proba(self.model, rows)
        assert len(got) == len(rows) and sorted(got.columns) == sorted(expected.columns)
        for column in expected.columns:
            np.testing.assert_allclose(got[column], expected[column], atol=ATOL, err_msg=column)

    def assert_still_serves(self) -> None:
        assert self.server.alive()
        self.assert_predicts(self.post(csv_bytes(GOOD)), GOOD)


def _serve(request, tmp_path_factory, name: str, env: dict | None = None) -> Served:
    model, train = classifier(("no", "yes"))
    base = tmp_path_factory.mktemp(name)
    write_model(base / "model", sklearn_onnx(model, train))
    shutil.copytree(DEFAULT_CODE, base / "code")
    server = serve(request, base / "code", "binary", label_args("yes", "no"),
                   env={"DR_ONNX_MODEL_DIR": str(base / "model"), **(env or {})}, timeout=90)
    return Served(server, model)


@pytest.fixture(scope="module")
def served(request, tmp_path_factory) -> Served:
    return _serve(request, tmp_path_factory, "hostile")


def arrow(table: pa.Table, stream: bool = False, compression: str | None = None) -> bytes:
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with (pa.ipc.new_stream if stream else pa.ipc.new_file)(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _table(rows: pd.DataFrame, **replaced: pa.Array) -> pa.Table:
    table = pa.Table.from_pandas(rows, preserve_index=False)
    for name, column in replaced.items():
        table = table.set_column(table.column_names.index(name), name, column)
    return table


def _with_pandas_metadata(table: pa.Table, metadata: dict) -> pa.Table:
    return table.replace_schema_metadata({b"pandas": json.dumps(metadata).encode()})


# --- refused: status, a short message naming the problem, no value of the request in the log -------

@dataclass
class Refused:
    send: Callable[[Served], requests.Response]
    status: int
    words: str  # in the message
    hidden: str = ""  # a value of the request that must appear neither in the message nor in the log
    seconds: float = 10.0


HUGE = "9" * 401


@functools.cache
def bomb(kind: str) -> bytes:
    """A zstd Arrow body of a few KB that decompresses to 265 MB: 33 million rows, or one 265 MB cell."""
    if kind == "rows":
        return arrow(pa.table({"f0": pa.array(np.zeros(33_000_000, dtype=np.float64))}), stream=True,
                     compression="zstd")
    return arrow(pa.table({"f0": ["a" * 265_000_000]}), compression="zstd")


CASES = {
    "JSON integer of 401 digits": Refused(
        lambda s: s.post(f'[{{"f0": 1, "f1": 2, "f2": 3, "f3": 4}}, {{"f0": 1, "f1": {HUGE}, "f2": 3, "f3": 4}}]'
                         .encode(), "application/json"),
        422, "Column 'f1' holds a whole number of 401 digits at row 2, beyond the range of tensor(float)", HUGE),
    "JSON integer of 5,000 digits": Refused(
        lambda s: s.post(b'[{"f0": 1, "f1": ' + b"7" * 5_000 + b', "f2": 3, "f3": 4}]', "application/json"),
        422, "JSON column 'f1' holds a whole number of 5000 digits at row 1", "7" * 50),
    "CSV integer of 401 digits": Refused(
        lambda s: s.post(HEADER + f"1,2,{HUGE},4\n".encode()), 422,
        "Column 'f2' holds a whole number of 401 digits at row 1", HUGE),
    "CSV 1e400": Refused(
        lambda s: s.post(HEADER + b"1,2,3,4\n1,2,1e400,4\n"), 422,
        "Column 'f2' holds a number beyond the range of float64 (±1.798e+308) at row 2", "1e400"),
    "JSON 1e400": Refused(
        lambda s: s.post(b'{"columns": ["f0", "f1", "f2", "f3"], "data": [[1, 2, 3, 4], [1, -1e400, 3, 4]]}',
                         "application/json"),
        422, "JSON column 'f1' holds a number at row 2, beyond the range of float64", "1e400"),
    "JSON key named twice": Refused(
        lambda s: s.post(b'[{"f0": 1, "f1": 2, "f2": 3, "f3": 4, "f1": 5}]', "application/json"),
        422, "JSON [0] (row 1) names the column 'f1' more than once"),
    "text in a number column": Refused(
        lambda s: s.post(HEADER + b"1,2,3,4\n1," + SECRET.encode() + b",3,4\n"), 422,
        "Column 'f1' holds text of 15 characters at row 2, which is not a number", SECRET),
    "Matrix Market complex values": Refused(
        lambda s: s.post(b"", None, files={
            "X": ("x.mtx", b"%%MatrixMarket matrix coordinate complex general\n1 4 1\n1 1 1.5 2.5\n"),
            "X.colnames": ("names", b"f0\nf1\nf2\nf3\n")}),
        422, "complex values (field 'complex' in its header line)"),
    "Matrix Market 1e400": Refused(
        lambda s: s.post(b"", None, files={
            "X": ("x.mtx", b"%%MatrixMarket matrix coordinate real general\n1 4 2\n1 1 1.5\n1 3 1e400\n"),
            "X.colnames": ("names", b"f0\nf1\nf2\nf3\n")}),
        422, "Matrix Market line 4 (row 1, column 3) holds a number beyond the range of float64", "1e400"),
    "CSV cut short": Refused(
        lambda s: s.post(HEADER + b"1,2,3,4\n5,6"), 422,
        "CSV line 3, the last, has 2 field(s) and no line break; the header has 4: the body looks cut short"),
    "a 2 MB text cell": Refused(
        lambda s: s.post(HEADER + b"1,2,3," + b"Q" * 2_000_000 + b"\n"), 413,
        "Column 'f3' at row 1 holds 2000000 bytes, more than the 1000000 bytes accepted in one cell", "QQQQ"),
    "Arrow zstd bomb: 33 million rows in 8 KB": Refused(
        lambda s: s.post(bomb("rows"), ARROW_STREAM), 413,
        "The request has 33000000 rows, more than the 1000000 rows accepted (DR_ONNX_MAX_ROWS)", seconds=5),
    "Arrow zstd bomb: one 265 MB cell in 8 KB": Refused(
        lambda s: s.post(bomb("cell"), ARROW_FILE), 413,
        "Arrow column 'f0' declares a buffer of 265000000 bytes once decompressed", seconds=5),
    "Arrow interval column": Refused(
        lambda s: s.post(arrow(_table(GOOD, f3=pa.array([None] * len(GOOD), pa.month_day_nano_interval())))),
        422, "Arrow column 'f3' has type month_day_nano_interval"),
    "a newline in a column name": Refused(
        lambda s: s.post(b'f0,f1,f2,"f3\nERROR forged log line",extra\n1,2,3,4,5\n'), 422,
        "received 5: 'f0', 'f1', 'f2', 'f3\\nERROR forged log line', 'extra'", "\nERROR forged log line"),
    "10,000 long column names": Refused(
        lambda s: s.post((",".join(f"c{i}" + "n" * 1_000 for i in range(10_000)) + "\n"
                          + ",".join(["1"] * 10_000) + "\n").encode()),
        422, "expects 4 column(s) per row, received 10000", "n" * 1_100),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_request_is_a_short_4xx_that_logs_no_value(served, name):
    case = CASES[name]
    log_before = len(served.log())
    started = time.monotonic()
    response = case.send(served)
    elapsed = time.monotonic() - started
    assert response.status_code == case.status, f"{response.status_code}: {response.text[:500]}"
    assert len(response.text) < MESSAGE_CAP and elapsed < case.seconds
    message = response.json()["message"]
    assert case.words in message, message
    time.sleep(0.5)  # the worker's log lines reach the file
    logged = served.log()[log_before:]
    assert case.words in logged  # DRUM logs the message (with its traceback)
    if case.hidden:
        assert case.hidden not in message and case.hidden not in logged, logged[-3000:]
    served.assert_still_serves()


# --- well formed, so served: with the semantics the reader documents --------------------------------

def test_arrow_decimals_with_a_negative_scale_score_as_their_value(served):
    rows = pd.DataFrame({"f0": [1000.0, -2000.0], "f1": [0.5, 1.0], "f2": [0.0, 1.0], "f3": [1.0, 0.0]})
    units = np.array([[1, 0], [-2, -1]], dtype=np.int64).ravel()  # 1 and -2 as little-endian int128
    decimals = pa.Array.from_buffers(pa.decimal128(5, -3), 2, [None, pa.py_buffer(units.tobytes())])
    served.assert_predicts(served.post(arrow(_table(rows, f0=decimals)), ARROW_FILE), rows)


@pytest.mark.parametrize("metadata", [
    {"index_columns": [{"kind": "range", "name": None, "start": 0, "stop": 10**15, "step": 1}],
     "column_indexes": [], "columns": [], "pandas_version": "2.2.0"},
    {"index_columns": [], "column_indexes": [], "pandas_version": "2.2.0", "columns": [
        {"name": "f0", "field_name": "f0", "pandas_type": "interval", "numpy_type": "interval[int64, right]",
         "metadata": None}]},
], ids=["huge-range-index", "interval-dtype"])
def test_arrow_pandas_metadata_is_not_trusted(served, metadata):
    body = arrow(_with_pandas_metadata(_table(GOOD), metadata), stream=True)
    served.assert_predicts(served.post(body, ARROW_STREAM), GOOD)


def test_arrow_timestamps_score_the_same_whatever_their_unit(served):
    def timestamps(seconds: pd.Series, unit: str) -> pa.Array:
        per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
        return pa.array((seconds * per_second).round().astype("int64"), pa.int64()).cast(pa.timestamp(unit))

    rows = GOOD.assign(f0=[0.0, 2.0, 2.5, -3.25])  # seconds since the epoch
    answers = {}
    for unit in ("ms", "us", "ns"):
        response = served.post(arrow(_table(rows, f0=timestamps(rows.f0, unit))), ARROW_FILE)
        served.assert_predicts(response, rows)
        answers[unit] = response.json()
    whole = GOOD.assign(f0=[0.0, 2.0, 3.0, -3.0])
    response = served.post(arrow(_table(whole, f0=timestamps(whole.f0, "s"))), ARROW_FILE)
    served.assert_predicts(response, whole)
    assert answers["ms"] == answers["us"] == answers["ns"]
    assert response.json() == served.post(arrow(_table(whole, f0=timestamps(whole.f0, "ms"))), ARROW_FILE).json()


def test_infinity_sent_as_such_is_still_scored(served):
    assert served.post(HEADER + b"1,2,inf,4\n1,2,-Infinity,4\n").status_code == 200
    body = b'[{"f0": 1, "f1": 2, "f2": Infinity, "f3": 4}]'
    assert served.post(body, "application/json").status_code == 200


def test_a_csv_without_its_final_line_break_is_scored_when_its_last_line_is_whole(served):
    served.assert_predicts(served.post(csv_bytes(GOOD).rstrip(b"\n")), GOOD)


# --- a body shorter than its Content-Length --------------------------------------------------------

def _raw(port: int, request: bytes) -> bytes:
    """Send ``request``, half-close (the client sends nothing more), and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: sock.recv(65536), b""))


def _short_body_request() -> bytes:
    body = csv_bytes(features(5))
    return (b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body) + 100, body[:-20]))  # the last line cut after its third field's comma


def test_a_body_shorter_than_its_content_length_is_a_400_with_the_default_code(served):
    answer = _raw(served.server.port, _short_body_request())
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"Content-Length announced" in answer and len(answer) < MESSAGE_CAP
    served.assert_still_serves()


@pytest.fixture(scope="module")
def plain(request, tmp_path_factory) -> Served:
    """A model folder with only the one-line custom.py of the README (our reader, no custom_flask.py)."""
    model, train = classifier(("no", "yes"))
    folder = write_code_dir(tmp_path_factory.mktemp("plain") / "model", sklearn_onnx(model, train))
    (folder / "custom.py").write_text("from dr_onnx_hooks import load_model, read_input_data, score\n")
    return Served(serve(request, folder, "binary", label_args("yes", "no"), timeout=90), model)


def test_without_custom_flask_a_short_body_reaches_the_reader_which_catches_a_cut_last_line(plain):
    """What DRUM, gunicorn and Werkzeug do alone: the body read so far is scored. Our reader refuses it
    when its last line lacks fields (here), not when the cut falls at a line break or inside the last field."""
    answer = _raw(plain.server.port, _short_body_request())
    assert answer.startswith(b"HTTP/1.1 422"), answer[:300]
    assert b"CSV line 6, the last, ends with an empty field and no line break: the body looks cut short" in answer
    # cut at a line break, the body is a whole CSV of fewer rows: scored (only custom_flask.py can tell)
    body = csv_bytes(features(5))
    cut = body[: body.rindex(b"\n", 0, len(body) - 1) + 1]
    answer = _raw(plain.server.port, b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                                     b"Content-Length: %d\r\n\r\n%s" % (len(body), cut))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert len(json.loads(answer.split(b"\r\n\r\n", 1)[1])["predictions"]) == 4
    plain.assert_still_serves()


# --- DR_ONNX_LOG_VALUES=on: the value is shown, quoted and capped -----------------------------------

@pytest.fixture(scope="module")
def showing(request, tmp_path_factory) -> Served:
    return _serve(request, tmp_path_factory, "showing", env={"DR_ONNX_LOG_VALUES": "on"})


def test_with_log_values_on_the_refused_value_is_shown_quoted_and_capped(showing):
    response = showing.post(HEADER + b"1," + SECRET.encode() + b",3,4\n")
    assert response.status_code == 422
    message = response.json()["message"]
    assert f"Column 'f1' holds text of 15 characters, '{SECRET}', at row 1" in message
    assert SECRET in showing.log()  # asked for: DRUM logs the message
    response = showing.post(HEADER + b"1,2,3," + b"Z" * 500_000 + b"\n")
    message = response.json()["message"]
    assert response.status_code == 422 and len(response.text) < MESSAGE_CAP
    assert "'ZZZZ" in message and "… (500000 characters)" in message
    response = showing.post(HEADER + b"1,2,1e400,4\n")  # the reader shows the text it refused too
    assert response.status_code == 422 and "at row 1 ('1e400')" in response.json()["message"]
    showing.assert_still_serves()
