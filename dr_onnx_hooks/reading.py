"""The request body, read into a DataFrame (behind DRUM's ``read_input_data`` hook).

DRUM hands the hook the bytes only, not the Content-Type, so the format is recognised from the content:

* Arrow IPC file (starts with ``ARROW1``) or stream (starts with the ``0xFFFFFFFF`` continuation marker).
* Matrix Market (``%%MatrixMarket``): a sparse frame whose columns are positions; ``score`` names them
  with the request's ``X.colnames`` (``name_sparse_columns``), as DRUM's own reader would.
* JSON (first non-blank character ``[`` or ``{``): records ``[{...}]``, split
  ``{"columns": [...], "data": [[...]]}``, or ``{"instances": [{...}]}``.
* Anything else is CSV: UTF-8 with an optional BOM, LF, CRLF or CR line ends, parsed by pandas as
  DRUM parses it, except that the columns the model feeds to string inputs are read as text.

Limits (``Limits``) are checked before the expensive step of each format, from what is cheap to
count: for CSV the header's fields and the body's line breaks, for Matrix Market its size line,
for JSON the decoded document before any frame is built, for Arrow the table before ``to_pandas``.
Over a limit is a 413; a malformed body is a 422 that says what is wrong and where.
"""

import codecs
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Optional, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.ipc
from pandas._libs.parsers import STR_NA_VALUES  # pandas' default missing-value words ("NA", "null", ...)
from scipy import sparse
from scipy.io import mmread

from .errors import DrOnnxError, InputError, TooLargeError
from .inputs import InputFeed
from .params import Environ, read_int

COLUMNS_SETTING = "DR_ONNX_MAX_COLUMNS"
ROWS_SETTING = "DR_ONNX_MAX_ROWS"
CELLS_SETTING = "DR_ONNX_MAX_CELLS"

ARROW_FILE_MAGIC = b"ARROW1"
ARROW_STREAM_MARKER = b"\xff\xff\xff\xff"
MTX_BANNER = b"%%matrixmarket"

_LEADING_SPACE = re.compile(rb"\s*")
_MANGLED = re.compile(r"(.+)\.\d+")  # pandas renames a repeated CSV header "a" to "a.1"
_BLANK_LINES = re.compile(rb"(?:[ \t]*(?:\r\n?|\n))*")  # what pandas skips before the header
_LINE_BREAK = re.compile(rb"[\r\n]")
# One CSV field as pandas' tokenizer reads it: a quote opens a quoted field only at the field's start
# (``""`` inside is a quote, text after the closing quote is kept); elsewhere a quote is a character.
_FIELD = re.compile(rb'"[^"]*(?:""[^"]*)*"[^,\r\n]*|[^,\r\n]*')
_PANDAS_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_PANDAS_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")
_MTX_SIZE = re.compile(rb"^[ \t]*(\d+)[ \t]+(\d+)(?:[ \t]+(\d+))?", re.MULTILINE)

JSON_SHAPES = (
    'JSON must be records [{"column": value, ...}, ...], split {"columns": [...], "data": [[...], ...]} '
    'or {"instances": [{"column": value, ...}, ...]}'
)
_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}


def _matched_end(pattern: "re.Pattern[bytes]", body: bytes, start: int) -> int:
    """Where ``pattern``, which matches the empty string too, stops matching from ``start``."""
    match = pattern.match(body, start)
    assert match is not None  # every such pattern matches the empty string
    return match.end()


def _json_kind(value: Any) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class Limits:
    """How much one request may hold; checked before the expensive parse so a worker is never tied up."""

    columns: int = 10_000
    rows: int = 1_000_000
    cells: int = 50_000_000  # rows x columns: Matrix Market and Arrow declare sizes a tiny body can blow up

    @classmethod
    def read(cls, environ: Environ) -> "Limits":
        return cls(
            read_int(COLUMNS_SETTING, cls.columns, environ=environ),
            read_int(ROWS_SETTING, cls.rows, environ=environ),
            read_int(CELLS_SETTING, cls.cells, environ=environ),
        )

    def allow(self, rows: int, columns: int) -> bool:
        """Whether ``rows`` x ``columns`` is within every limit."""
        return columns <= self.columns and rows <= self.rows and rows * columns <= self.cells

    def check(self, rows: int, columns: int, counted: str = "rows") -> None:
        """413 when ``rows`` (an upper bound counted as ``counted``, e.g. CSV lines) or ``columns`` is too many."""
        if columns > self.columns:
            raise TooLargeError(
                f"The request has more than {self.columns} columns, the most accepted ({COLUMNS_SETTING})."
            )
        if rows > self.rows:
            raise TooLargeError(
                f"The request has {rows} {counted}, more than the {self.rows} rows accepted ({ROWS_SETTING})."
            )
        if rows * columns > self.cells:
            raise TooLargeError(
                f"The request has {rows} {counted} x {columns} columns = {rows * columns} cells, more than the "
                f"{self.cells} accepted ({CELLS_SETTING})."
            )


@dataclass(frozen=True)
class TextColumns:
    """The CSV columns the loaded model feeds to string inputs, read as text rather than inferred."""

    every: bool = False  # a single string input reads every column
    names: FrozenSet[str] = frozenset()  # case-folded: inputs match columns case-insensitively

    @classmethod
    def of(cls, feed: InputFeed) -> "TextColumns":
        strings = [i.name for i in feed.inputs if i.onnx_type == "tensor(string)"]
        if not feed.by_name:
            return cls(every=bool(strings))
        # the columns each string input reads: ``city``, or ``codes_0``, ``codes_1``, ... for a vector input
        return cls(names=frozenset(column.casefold() for name in strings for column in feed.columns[name]))

    def __bool__(self) -> bool:
        return self.every or bool(self.names)

    def __contains__(self, column: object) -> bool:
        return self.every or str(column).casefold() in self.names


def _line_breaks(data: bytes) -> int:
    """Line breaks in ``data``, whichever of LF, CRLF or CR it uses."""
    return max(data.count(b"\n"), data.count(b"\r"))


def _position(body: bytes, offset: int) -> str:
    """Where ``offset`` is, as a person counts: ``line 3, byte 7 of the line``."""
    line_start = max(body.rfind(b"\n", 0, offset), body.rfind(b"\r", 0, offset)) + 1
    return f"line {_line_breaks(body[:line_start]) + 1}, byte {offset - line_start + 1} of the line"


def _check_utf8(body: bytes, what: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"The {what} is not UTF-8: byte 0x{body[exc.start]:02x} at {_position(body, exc.start)}, cannot be "
            f"decoded ({exc.reason}). Send UTF-8 text."
        ) from exc


def _header_fields(body: bytes, start: int, limit: int) -> int:
    """Fields of the CSV header record starting at ``start``, counted up to ``limit + 1``.

    A header without quotes ends at the first line break: one ``count`` of commas. With quotes a
    field may hold commas and line breaks, so fields are matched one by one, at most ``limit + 1``.
    """
    line_break = _LINE_BREAK.search(body, start)
    line_end = line_break.start() if line_break else len(body)
    if body.find(b'"', start, line_end) < 0:
        return body.count(b",", start, line_end) + 1
    fields, position = 0, start
    while fields <= limit:
        position = _matched_end(_FIELD, body, position)
        fields += 1
        if body[position:position + 1] != b",":
            break
        position += 1
    return fields


def _unique(names: Sequence[object]) -> None:
    """Refuse a table that names a column twice: which one would feed the model?"""
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        raise InputError(f"Column name(s) {', '.join(map(repr, repeated))} appear more than once; send each column once.")


def _csv_error(exc: Exception, skipped_lines: int) -> DrOnnxError:
    """pandas' tokenizer error, with its line as the line of the body sent (pandas counts rows from 0)."""
    text = str(exc).strip().removeprefix("Error tokenizing data. C error: ")
    ragged = _PANDAS_RAGGED.search(text)
    if ragged:
        expected, line, saw = ragged.groups()
        return InputError(
            f"CSV line {int(line) + skipped_lines} has {saw} fields; the header has {expected}. "
            "Quote values that contain commas."
        )
    open_quote = _PANDAS_OPEN_QUOTE.search(text)
    if open_quote:
        return InputError(
            f"CSV line {int(open_quote.group(1)) + 1 + skipped_lines}: a quoted field starts here and is never closed."
        )
    return InputError(f"The CSV cannot be parsed: {text}")


@dataclass(frozen=True)
class RequestReader:
    """Reads one request body into a DataFrame, for the loaded model's limits and text columns."""

    limits: Limits = Limits()
    text: TextColumns = TextColumns()

    def __call__(self, body: bytes) -> pd.DataFrame:
        if body.startswith(ARROW_FILE_MAGIC):
            return self._arrow(body, pa.ipc.open_file, "file")
        if body.startswith(ARROW_STREAM_MARKER):
            return self._arrow(body, pa.ipc.open_stream, "stream")
        body = body.removeprefix(codecs.BOM_UTF8)
        first = _matched_end(_LEADING_SPACE, body, 0)
        if first == len(body):
            raise InputError("The request body is empty: send CSV (header first), JSON, Arrow IPC or Matrix Market.")
        if body[first:first + len(MTX_BANNER)].lower() == MTX_BANNER:
            return self._matrix_market(body)
        if body[first:first + 1] in (b"[", b"{"):
            return self._json(body)
        return self._csv(body)

    def _csv(self, body: bytes) -> pd.DataFrame:
        start = _matched_end(_BLANK_LINES, body, 0)
        fields = _header_fields(body, start, self.limits.columns)
        data = body[start:]  # pandas then takes exactly the header measured above
        if not self.limits.allow(len(data), fields):  # every line takes a byte: a short body needs no count
            lines = _line_breaks(data) + (not data.endswith((b"\n", b"\r")))
            self.limits.check(lines - 1, fields, counted="lines below the header")
        skipped_lines = _line_breaks(body[:start])
        try:
            # As DRUM: a blank line is a missing value when there is one column, else skipped.
            frame = pd.read_csv(io.BytesIO(data), skip_blank_lines=fields > 1, **self._text_options(data))
            if any((m := _MANGLED.fullmatch(str(c))) and m.group(1) in frame.columns for c in frame.columns):
                _unique(pd.read_csv(io.BytesIO(data), nrows=1, header=None, dtype=str).iloc[0].tolist())
            return frame
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise _csv_error(exc, skipped_lines) from exc
        except UnicodeDecodeError:
            _check_utf8(body, "CSV")  # raises, with the position in the body rather than in pandas' chunk
            raise

    def _text_options(self, data: bytes) -> Dict[str, Any]:
        """``read_csv`` options that keep the model's string-input columns exactly as sent.

        Inferred, ``02134`` would become 2134 and ``NA`` a missing value; as text only an empty
        field is missing. Other columns keep pandas' inference and missing-value words.
        """
        if not self.text:
            return {}
        names = list(pd.read_csv(io.BytesIO(data), nrows=0).columns)
        text = {name for name in names if name in self.text}
        if not text:
            return {}
        return {
            "dtype": dict.fromkeys(text, str),
            "keep_default_na": False,
            "na_values": {name: [""] if name in text else STR_NA_VALUES for name in names},
        }

    def _json(self, body: bytes) -> pd.DataFrame:
        try:
            document = json.loads(_check_utf8(body, "JSON"))
        except json.JSONDecodeError as exc:
            raise InputError(
                f"The JSON is invalid at line {exc.lineno}, column {exc.colno} (character {exc.pos}): {exc.msg}."
            ) from exc
        except RecursionError as exc:
            raise InputError("The JSON nests arrays or objects too deeply to be a table.") from exc
        if isinstance(document, list):
            return self._records(document, "")
        if isinstance(document, dict) and "instances" in document:
            return self._records(document["instances"], '"instances"')
        if isinstance(document, dict) and "columns" in document and "data" in document:
            return self._split(document["columns"], document["data"])
        keys = f" with keys {', '.join(map(repr, document))}" if isinstance(document, dict) else ""
        raise InputError(f"{JSON_SHAPES}; got {_json_kind(document)}{keys}.")

    def _records(self, records: Any, path: str) -> pd.DataFrame:
        if not isinstance(records, list):
            raise InputError(f"JSON {path} must be an array of records; got {_json_kind(records)}.")
        bad = next((i for i, record in enumerate(records) if not isinstance(record, dict)), None)
        if bad is not None:
            raise InputError(
                f"JSON {path}[{bad}] is {_json_kind(records[bad])}; each record (row {bad + 1}) must be an object "
                'of "column": value.'
            )
        self.limits.check(len(records), len(set().union(*records)))
        return _scalar_cells(pd.DataFrame(records))

    def _split(self, columns: Any, data: Any) -> pd.DataFrame:
        if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
            raise InputError('JSON "columns" must be an array of column names (strings).')
        if not isinstance(data, list):
            raise InputError(f'JSON "data" must be an array of rows; got {_json_kind(data)}.')
        self.limits.check(len(data), len(columns))
        _unique(columns)
        bad = next((i for i, row in enumerate(data) if not isinstance(row, list) or len(row) != len(columns)), None)
        if bad is not None:
            row = data[bad]
            got = f"{len(row)} values" if isinstance(row, list) else _json_kind(row)
            raise InputError(f'JSON "data"[{bad}] (row {bad + 1}) has {got}; "columns" names {len(columns)}.')
        return _scalar_cells(pd.DataFrame(data, columns=columns))

    def _arrow(self, body: bytes, open_reader: Callable[[pa.Buffer], Any], kind: str) -> pd.DataFrame:
        try:
            table = open_reader(pa.py_buffer(body)).read_all()  # zero-copy: the buffers stay in ``body``
            table.validate(full=True)  # offsets out of bounds would crash ``to_pandas``, not raise
        except (pa.ArrowException, OSError) as exc:  # a truncated stream is an OSError
            raise InputError(f"The Arrow IPC {kind} cannot be read: {exc}") from exc
        nested = next((f for f in table.schema if pa.types.is_nested(f.type)), None)
        if nested is not None:
            raise InputError(
                f"Arrow column {nested.name!r} has type {nested.type}; only flat columns (numbers, text, booleans) "
                "can be scored."
            )
        self.limits.check(table.num_rows, table.num_columns)
        _unique(table.column_names)
        try:
            return table.to_pandas()
        except (pa.ArrowException, ValueError, TypeError, KeyError) as exc:  # e.g. from its pandas metadata
            raise InputError(f"The Arrow IPC {kind} cannot be made a table: {type(exc).__name__}: {exc}") from exc

    def _matrix_market(self, body: bytes) -> pd.DataFrame:
        nul = body.find(b"\x00")
        if nul >= 0:  # scipy 1.17's mmread crashes the process on a NUL in a value
            raise InputError(f"The Matrix Market body holds a NUL byte at {_position(body, nul)}; it must be text.")
        size = _MTX_SIZE.search(body)
        if size is None:
            raise InputError("The Matrix Market body has no size line ('rows columns entries') after its header.")
        self.limits.check(int(size.group(1)), int(size.group(2)))
        entries, lines = int(size.group(3) or 0), _line_breaks(body[size.end():])
        if entries > lines + 1:  # checked here: the parser allocates for every declared entry first
            raise InputError(
                f"The Matrix Market body declares {entries} entries but has {lines} more lines: it is truncated."
            )
        try:
            # mmread also crashes on a last line that has no line break and text after its value.
            matrix = mmread(io.BytesIO(body if body.endswith(b"\n") else body + b"\n"))
        except (ValueError, OverflowError) as exc:
            raise InputError(f"The Matrix Market body cannot be read: {exc}") from exc
        return pd.DataFrame.sparse.from_spmatrix(sparse.coo_matrix(matrix))


def _scalar_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``, once no cell holds an array or object (only mixed, object columns can)."""
    for position in (frame.dtypes == object).to_numpy().nonzero()[0]:
        values = frame.iloc[:, position]
        bad = next((i for i, value in enumerate(values) if isinstance(value, (list, dict))), None)
        if bad is not None:
            raise InputError(
                f"JSON column {frame.columns[position]!r} holds {_json_kind(values.iloc[bad])} at row {bad + 1}; "
                "cells must be numbers, strings, booleans or null."
            )
    return frame


def name_sparse_columns(frame: pd.DataFrame, colnames: Optional[Sequence[str]]) -> pd.DataFrame:
    """``frame`` with the request's sparse column names (``X.colnames``, ``drum score --sparse-column-file``).

    DRUM names a Matrix Market frame itself when it reads the body, but ``read_input_data`` gets
    no names, so its sparse frame still has positions as columns; ``score`` names them here.
    """
    if not colnames or not isinstance(frame.columns, pd.RangeIndex):
        return frame
    if not all(isinstance(dtype, pd.SparseDtype) for dtype in frame.dtypes):
        return frame
    if len(colnames) != frame.shape[1]:
        raise InputError(
            f"X.colnames names {len(colnames)} columns but the Matrix Market data has {frame.shape[1]}."
        )
    return frame.set_axis(list(colnames), axis=1)
