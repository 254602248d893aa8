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
for JSON the decoded document before any frame is built, for Arrow the record batches' metadata
(rows, and for a compressed body every buffer's decompressed size) before any batch is read or
decompressed. Over a limit is a 413; a malformed body is a 422 that says what is wrong and where.

What a request means, whatever its format:

* **Numbers beyond float64.** A finite number written in the text (``1e400``, a JSON or CSV
  integer of 309+ digits, a Matrix Market entry) that float64 cannot hold is a 422 naming its
  column and row (Matrix Market: its line), never infinity. Infinity itself stays allowed when it
  is sent as such: ``inf``/``-inf``/``Infinity`` in CSV, ``Infinity`` in JSON, ±inf in Arrow
  floats. These checks look at the data only when a parse produced an infinity.
* **JSON**: a key repeated in one object (``{"a": 1, "a": 2}``) is a 422 naming it and the row.
* **Arrow types.** Numbers, booleans, text, binary and dictionaries of them are read as sent.
  Every timestamp, date, time and duration becomes **float64 seconds**, whatever its unit:
  timestamps and dates as seconds since 1970-01-01T00:00:00 UTC (a timestamp without a time zone
  is read as UTC), times as seconds since midnight, durations as seconds; a missing value stays
  missing. So ``timestamp[s]`` and ``timestamp[ms]`` of one instant feed the model the same
  number (to about a microsecond: float64). A decimal with a negative scale, or a scale above
  its precision, becomes float64 (its value, rounded to the nearest double; beyond float64 is a
  422); other decimals are read exactly. Extension types are read as their storage type.
  Anything else (lists, structs, maps, unions, intervals...) is a 422 naming the column and type.
  The schema's metadata is never interpreted (no pandas index or dtype is rebuilt from it); only
  the pandas index columns it names are dropped, so a frame written with its index scores as
  the frame.
* **Per cell**: a text or binary value longer than ``Limits.cell_bytes`` (``DEFAULT_CELL_BYTES``,
  1,000,000 bytes) is a 413 naming its column (and row where known), for every format.
* **Matrix Market**: complex entries are refused (their imaginary part cannot be fed to a model).
* **Truncated bodies.** JSON, Arrow and Matrix Market (fewer entries than declared) are
  self-delimiting: a cut body fails to parse. A CSV body whose last line has no line break and
  fewer fields than the header is refused as cut short. What cannot be detected here: a CSV cut at
  a line break, or inside the last field of its last line (``4.56`` cut to ``4.5``); the hook
  sees the bytes only. A body shorter than its ``Content-Length`` is caught before the hook by
  ``flask_ext`` (``custom_flask.py``), not here.

Messages name columns and rows and describe a cell by its kind and size; its content appears only
with ``show_values`` (``DR_ONNX_LOG_VALUES``). Names are quoted, escaped and capped (``quoting``).
"""

import codecs
import io
import json
import math
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc
from pandas._libs.parsers import STR_NA_VALUES  # pandas' default missing-value words ("NA", "null", ...)
from scipy import sparse
from scipy.io import mmread

from .errors import DrOnnxError, InputError, TooLargeError
from .inputs import FLOAT64_MAX, InputFeed, is_inf_word
from .params import Environ, read_int
from .quoting import escaped, listed, quoted

COLUMNS_SETTING = "DR_ONNX_MAX_COLUMNS"
ROWS_SETTING = "DR_ONNX_MAX_ROWS"
CELLS_SETTING = "DR_ONNX_MAX_CELLS"
CELL_BYTES_SETTING = "DR_ONNX_MAX_CELL_BYTES"
DEFAULT_CELL_BYTES = 1_000_000
BYTES_PER_CELL = 8  # decompressed Arrow may take 8 bytes (a float64) per cell the limits accept, in all

ARROW_FILE_MAGIC = b"ARROW1"
ARROW_STREAM_MARKER = b"\xff\xff\xff\xff"
MTX_BANNER = b"%%matrixmarket"
DETAIL = 300  # characters of a parser's own error text in a message

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
_BEYOND_FLOAT64 = f"beyond the range of float64 (±{FLOAT64_MAX:.4g})"


def _matched_end(pattern: "re.Pattern[bytes]", body: bytes, start: int) -> int:
    """Where ``pattern``, which matches the empty string too, stops matching from ``start``."""
    match = pattern.match(body, start)
    assert match is not None  # every such pattern matches the empty string
    return match.end()


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):  # a ``_Repeated`` one too
        return "an object"
    return _JSON_KINDS.get(type(value), "a number" if isinstance(value, _Overflowed) else type(value).__name__)


@dataclass(frozen=True)
class Limits:
    """How much one request may hold; checked before the parse where the body declares it (CSV header
    width, Arrow metadata, Matrix Market size line), else as it goes (CSV rows: pandas stops one row
    past them; JSON: once decoded, before the frame), so that a body over a limit costs no more than
    the largest one accepted."""

    columns: int = 10_000
    rows: int = 1_000_000
    cells: int = 50_000_000  # rows x columns: Matrix Market and Arrow declare sizes a tiny body can blow up
    cell_bytes: int = DEFAULT_CELL_BYTES  # one text or binary value

    @classmethod
    def read(cls, environ: Environ) -> "Limits":
        return cls(
            read_int(COLUMNS_SETTING, cls.columns, environ=environ),
            read_int(ROWS_SETTING, cls.rows, environ=environ),
            read_int(CELLS_SETTING, cls.cells, environ=environ),
            read_int(CELL_BYTES_SETTING, cls.cell_bytes, environ=environ),
        )

    @property
    def decompressed_bytes(self) -> int:
        """What a compressed Arrow body may decompress to, in all: a float64 for every cell the limits accept."""
        return self.cells * BYTES_PER_CELL

    def most_rows(self, columns: int) -> int:
        """The most rows of ``columns`` columns within every limit (``columns`` itself is checked apart)."""
        return min(self.rows, self.cells // max(columns, 1))

    def check(self, rows: int, columns: int, counted: str = "rows") -> None:
        """413 when ``rows`` (as ``counted``: e.g. ``rows or more`` when the parse stopped past the limit)
        or ``columns`` is too many."""
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

    def cell_too_large(self, where: str, size: str) -> TooLargeError:
        """The 413 for one value over ``cell_bytes``: ``where`` it is, its ``size`` in words."""
        return TooLargeError(
            f"{where} holds {size}, more than the {self.cell_bytes} bytes accepted in one cell ({CELL_BYTES_SETTING})."
        )


@dataclass(frozen=True)
class TextColumns:
    """The CSV columns the loaded model feeds to string inputs, read as text rather than inferred."""

    every: bool = False  # a single string input reads every column
    names: frozenset[str] = frozenset()  # case-folded: inputs match columns case-insensitively

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
        raise InputError(f"Column name(s) {listed(repeated)} appear more than once; send each column once.")


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
    return InputError(f"The CSV cannot be parsed: {escaped(text, DETAIL)}")


def _cut_short(data: bytes, fields: int, skipped_lines: int) -> None:
    """Refuse a CSV whose last line has no line break and fewer fields than the header, or ends with an
    empty field: a body cut short (the client stopped sending).

    A last line holding a quote is not counted (it may end a quoted field begun lines before); a
    body cut at a line break, or inside the last field, cannot be told from a whole one.
    """
    if fields < 2 or data.endswith((b"\n", b"\r")):
        return
    last_break = max(data.rfind(b"\n"), data.rfind(b"\r"))
    last = data[last_break + 1:]
    if last_break < 0 or b'"' in last or not last.strip():
        return
    got = last.count(b",") + 1
    if got < fields:
        why = f"has {got} field(s) and no line break; the header has {fields}"
    elif last.rstrip(b" \t").endswith(b","):
        why = "ends with an empty field and no line break"
    else:
        return
    raise InputError(
        f"CSV line {_line_breaks(data) + 1 + skipped_lines}, the last, {why}: the body looks cut short. Send the "
        "whole body, ending with a line break."
    )


_PLAIN_JSON = frozenset({str, int, bool, type(None)})  # cells that need no look
_WIDE = 100  # columns above which one array of all the float columns is quicker to look at than each column
_SMALL = 1 << 16  # cells up to which that array is quicker anyway (pandas' column access costs ~20 us each)


def _infinite_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the float columns that hold ±inf: one vectorised look (all columns as one array
    when the frame is small, at worst a copy of it, or all float and wide; else column by column,
    as pandas 3's read_csv leaves one block per column)."""
    if frame.size <= _SMALL:
        values = frame.to_numpy()
        if values.dtype.kind in "biu":
            return []
        if values.dtype.kind == "f":
            return np.flatnonzero(np.isinf(values).any(axis=0)).tolist()
    kinds = [dtype.kind for dtype in frame.dtypes]
    if kinds.count("f") == len(kinds) > _WIDE:
        return np.flatnonzero(np.isinf(frame.to_numpy(dtype=np.float64)).any(axis=0)).tolist()
    return [
        position for position, (kind, (_, column)) in enumerate(zip(kinds, frame.items(), strict=True))
        if kind == "f" and np.isinf(column.to_numpy()).any()
    ]


def _is_object(dtype: Any) -> bool:
    """A numpy object column: mixed values (pandas' own text columns are ``StringDtype``)."""
    return isinstance(dtype, np.dtype) and dtype.kind == "O"


def _may_hold_text(dtype: Any) -> bool:
    return isinstance(dtype, pd.StringDtype) or _is_object(dtype)


def _text_lengths(column: pd.Series) -> np.ndarray:
    """Characters (or bytes) of each text (or binary) cell of ``column``, 0 for other cells."""
    if isinstance(column.dtype, pd.StringDtype):
        return column.str.len().fillna(0).to_numpy(dtype=np.int64)
    return np.fromiter((len(v) if isinstance(v, (str, bytes)) else 0 for v in column), np.int64, len(column))


def _utf8_size(value: object) -> int:
    return len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else len(value)  # type: ignore[arg-type]


class _Repeated(dict):
    """A JSON object that names a key twice (the last value kept, as ``dict`` would): refused where it is found."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict:
    """``object_pairs_hook``: a dict, or a ``_Repeated`` one when a key comes twice."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set = set()
    key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
    return _Repeated(pairs, key)


class _Overflowed:
    """A JSON number float64 cannot hold (``1e400``), or an integer beyond Python's int-string limit."""

    def __init__(self, text: str) -> None:
        self.text = text

    def describe(self, show_values: bool) -> str:
        if any(c in self.text for c in ".eE"):
            kind = "a number"
        else:
            digits = len(self.text.lstrip("-"))
            kind = f"{'a negative' if self.text.startswith('-') else 'a'} whole number of {digits} digits"
        return f"{kind}, {quoted(self.text)}," if show_values else kind


def _marked_float(text: str) -> float | _Overflowed:
    number = float(text)
    return _Overflowed(text) if math.isinf(number) else number  # JSON's Infinity comes as a constant, not here


def _marked_int(text: str) -> int | _Overflowed:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits, 4,300 by default)
        return _Overflowed(text)


@dataclass(frozen=True)
class RequestReader:
    """Reads one request body into a DataFrame, for the loaded model's limits and text columns.

    ``show_values`` (``DR_ONNX_LOG_VALUES``): messages may quote the refused value itself.
    """

    limits: Limits = Limits()
    text: TextColumns = TextColumns()
    show_values: bool = False

    def __call__(self, body: bytes) -> pd.DataFrame:
        if body.startswith(ARROW_FILE_MAGIC):
            return self._arrow(body, "file")
        if body.startswith(ARROW_STREAM_MARKER):
            return self._arrow(body, "stream")
        body = body.removeprefix(codecs.BOM_UTF8)
        first = _matched_end(_LEADING_SPACE, body, 0)
        if first == len(body):
            raise InputError("The request body is empty: send CSV (header first), JSON, Arrow IPC or Matrix Market.")
        if body[first:first + len(MTX_BANNER)].lower() == MTX_BANNER:
            return self._matrix_market(body)
        if body[first:first + 1] in (b"[", b"{"):
            return self._json(body)
        return self._csv(body)

    # --- CSV ---------------------------------------------------------------------------------------

    def _csv(self, body: bytes) -> pd.DataFrame:
        start = _matched_end(_BLANK_LINES, body, 0)
        fields = _header_fields(body, start, self.limits.columns)
        data = body[start:] if start else body  # pandas then takes exactly the header measured above
        self.limits.check(0, fields)  # a header too wide is refused before pandas reads it
        most = self.limits.most_rows(fields)
        skipped_lines = _line_breaks(body[:start])
        skip_blank_lines = fields > 1  # as DRUM: a blank line is a missing value when there is one column
        try:
            # pandas stops one row past the limits: a longer body is refused without being read whole
            # (and without counting its lines first, which costs a third of the parse)
            frame = pd.read_csv(
                io.BytesIO(data), nrows=most + 1, skip_blank_lines=skip_blank_lines, **self._text_options(data)
            )
            if any((m := _MANGLED.fullmatch(str(c))) and m.group(1) in frame.columns for c in frame.columns):
                _unique(pd.read_csv(io.BytesIO(data), nrows=1, header=None, dtype=str).iloc[0].tolist())
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise _csv_error(exc, skipped_lines) from exc
        except UnicodeDecodeError:
            _check_utf8(body, "CSV")  # raises, with the position in the body rather than in pandas' chunk
            raise
        if len(frame) > most:
            self.limits.check(len(frame), fields, counted="rows or more")
        _cut_short(data, fields, skipped_lines)
        self._csv_overflow(frame, data, skip_blank_lines)
        self._cell_sizes(frame, len(body))
        return frame

    def _text_options(self, data: bytes) -> dict[str, Any]:
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

    def _csv_overflow(self, frame: pd.DataFrame, data: bytes, skip_blank_lines: bool) -> None:
        """422 for a number column that holds ±inf where the text is a finite number (``1e400``).

        One vectorised look for ±inf in the float columns; the text is read again only for a
        column that holds one.
        """
        for position in _infinite_columns(frame):
            name = frame.columns[position]
            infinite = np.isinf(frame.iloc[:, position].to_numpy())
            texts = pd.read_csv(  # by name: a position would be off by pandas' implicit index column
                io.BytesIO(data), usecols=[name], dtype=str, keep_default_na=False, skip_blank_lines=skip_blank_lines,
            ).iloc[:, 0]
            for row in np.flatnonzero(infinite):
                text = texts.iloc[row]
                if not is_inf_word(text):
                    value = f" ({quoted(text.strip())})" if self.show_values else ""
                    raise InputError(
                        f"Column {quoted(name)} holds a number {_BEYOND_FLOAT64} at row {row + 1}"
                        f"{value}. Send numbers within that range; inf and -inf are read as infinity."
                    )

    def _cell_sizes(self, frame: pd.DataFrame, body_size: int) -> None:
        """413 for a text cell over ``cell_bytes``; looked at only when the body is larger than that."""
        limit = self.limits.cell_bytes
        if body_size <= limit:
            return
        for position, dtype in enumerate(frame.dtypes):
            if not _may_hold_text(dtype):
                continue
            column = frame.iloc[:, position]
            lengths = _text_lengths(column)
            if not len(lengths) or lengths.max() <= limit // 4:  # 4 bytes a character at most
                continue
            for row in np.flatnonzero(lengths > limit // 4):
                size = _utf8_size(column.iloc[row])
                if size > limit:
                    raise self.limits.cell_too_large(
                        f"Column {quoted(frame.columns[position])} at row {row + 1}", f"{size} bytes"
                    )

    # --- JSON --------------------------------------------------------------------------------------

    def _json(self, body: bytes) -> pd.DataFrame:
        text = _check_utf8(body, "JSON")
        try:
            document = json.loads(text, object_pairs_hook=_json_object)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"The JSON is invalid at line {exc.lineno}, column {exc.colno} (character {exc.pos}): {exc.msg}."
            ) from exc
        except RecursionError as exc:
            raise InputError("The JSON nests arrays or objects too deeply to be a table.") from exc
        except ValueError:  # an integer of more digits than Python converts: found again, with its place
            return self._json_marked(text, len(body))
        frame, infinite = self._json_frame(document, len(body))
        return self._json_marked(text, len(body)) if infinite else frame

    def _json_marked(self, text: str, body_size: int) -> pd.DataFrame:
        """The slow path, when the document holds a number float64 or Python cannot hold: parsed again
        with each such number marked, so its column and row are named; the frame if none is."""
        try:
            document = json.loads(
                text, object_pairs_hook=_json_object, parse_float=_marked_float, parse_int=_marked_int
            )
        except ValueError as exc:
            raise InputError(f"The JSON cannot be read: {escaped(exc, DETAIL)}") from exc
        frame, _ = self._json_frame(document, body_size)
        return frame

    def _json_frame(self, document: Any, body_size: int) -> tuple[pd.DataFrame, bool]:
        """The frame of a decoded document, and whether it holds ±inf (which a number too large also gives)."""
        if isinstance(document, _Repeated):
            raise InputError(f"The JSON object names the key {quoted(document.key)} more than once.")
        if isinstance(document, list):
            frame = self._records(document, "")
        elif isinstance(document, dict) and "instances" in document:
            frame = self._records(document["instances"], '"instances"')
        elif isinstance(document, dict) and "columns" in document and "data" in document:
            frame = self._split(document["columns"], document["data"])
        else:
            keys = f" with keys {listed(document)}" if isinstance(document, dict) else ""
            raise InputError(f"{JSON_SHAPES}; got {_json_kind(document)}{keys}.")
        infinite = self._json_cells(frame)
        self._cell_sizes(frame, body_size)  # a string decodes to no more UTF-8 bytes than its JSON text
        return frame, infinite

    def _records(self, records: Any, path: str) -> pd.DataFrame:
        if not isinstance(records, list):
            raise InputError(f"JSON {path} must be an array of records; got {_json_kind(records)}.")
        bad = next((i for i, record in enumerate(records) if type(record) is not dict), None)
        if bad is not None:
            record = records[bad]
            if isinstance(record, _Repeated):
                raise InputError(
                    f"JSON {path}[{bad}] (row {bad + 1}) names the column {quoted(record.key)} more than once; "
                    "send each column once."
                )
            raise InputError(
                f"JSON {path}[{bad}] is {_json_kind(record)}; each record (row {bad + 1}) must be an object "
                'of "column": value.'
            )
        self.limits.check(len(records), len(set().union(*records)))
        return pd.DataFrame(records)

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
        return pd.DataFrame(data, columns=columns)

    def _json_cells(self, frame: pd.DataFrame) -> bool:
        """Refuse a cell that holds an array, an object or a marked number; say whether a cell is ±inf.

        Only object columns (mixed types) can hold those; float columns are looked at once, vectorised.
        """
        infinite = bool(_infinite_columns(frame))
        for position, dtype in enumerate(frame.dtypes):
            if not _is_object(dtype):
                continue
            name = frame.columns[position]
            for row, value in enumerate(frame.iloc[:, position].tolist()):
                kind = type(value)
                if kind in _PLAIN_JSON:
                    continue
                if kind is float:
                    infinite = infinite or math.isinf(value)
                    continue
                if isinstance(value, (list, dict)):
                    raise InputError(
                        f"JSON column {quoted(name)} holds {_json_kind(value)} at row {row + 1}; "
                        "cells must be numbers, strings, booleans or null."
                    )
                if isinstance(value, _Overflowed):
                    raise InputError(
                        f"JSON column {quoted(name)} holds {value.describe(self.show_values)} "
                        f"at row {row + 1}, {_BEYOND_FLOAT64}: no model input can take it. Send numbers within "
                        "that range; Infinity and -Infinity are read as infinity."
                    )
        return infinite

    # --- Arrow IPC ---------------------------------------------------------------------------------

    def _arrow(self, body: bytes, kind: str) -> pd.DataFrame:
        buffer = pa.py_buffer(body)  # zero-copy: the batches' buffers stay in ``body`` unless compressed
        try:
            reader = pa.ipc.open_file(buffer) if kind == "file" else pa.ipc.open_stream(buffer)
            schema = reader.schema
            names = schema.names  # a name that is not UTF-8 raises here (UnicodeDecodeError), not later
        except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as exc:
            raise _arrow_error(kind, exc) from exc
        self.limits.check(0, len(schema))
        layouts = [_layout(field) for field in schema]  # 422 for a type a model cannot be fed
        _unique(names)
        try:
            long_text = self._arrow_sizes(_arrow_messages(body, buffer, kind), layouts, len(schema), kind)
            if kind == "stream":
                reader = pa.ipc.open_stream(buffer)  # what the check above read, read again as batches
            table = reader.read_all()
            table.validate(full=True)  # offsets out of bounds would crash ``to_pandas``, not raise
        except (pa.ArrowException, OSError, ValueError, TypeError, KeyError, struct.error) as exc:
            raise _arrow_error(kind, exc) from exc
        for position in long_text:
            self._arrow_cell_sizes(table.column(position), table.column_names[position])
        return self._arrow_frame(table, schema)

    def _arrow_sizes(
        self, messages: Iterator[pa.ipc.Message], layouts: list["_Layout"], columns: int, kind: str
    ) -> set[int]:
        """Check every record batch's rows, and every compressed buffer's decompressed size, from the
        messages' metadata before anything is decompressed; the columns whose text may hold a value
        over ``cell_bytes`` (a text buffer larger than that), to look at once read."""
        rows = decompressed = 0
        long_text: set[int] = set()
        for message in messages:
            batch = _batch_metadata(message)
            if batch is None:
                continue
            if batch.dictionary:
                if batch.length > self.limits.rows:
                    raise TooLargeError(
                        f"An Arrow dictionary holds {batch.length} values, more than the {self.limits.rows} rows "
                        f"accepted ({ROWS_SETTING})."
                    )
                bounds = [_GENERIC] * len(batch.buffers)
            else:
                rows += batch.length
                self.limits.check(rows, columns)
                bounds = _buffer_bounds(layouts, batch.variadic, len(batch.buffers))
            sizes = _buffer_sizes(message.body, batch.buffers, batch.compressed)
            for (column, role, _), size in zip(bounds, sizes, strict=True):
                if role in ("data", "generic") and size > self.limits.cell_bytes:
                    long_text.update(range(columns) if batch.dictionary or column < 0 else (column,))
            if not batch.compressed:
                continue
            for (column, role, width), size in zip(bounds, sizes, strict=True):
                most = _most_bytes(role, width, batch.length, self.limits.cell_bytes)
                if size > most:
                    where = f"Arrow column {quoted(layouts[column].name)}" if column >= 0 else "An Arrow dictionary"
                    raise TooLargeError(
                        f"{where} declares a buffer of {size} bytes once decompressed, more than its {batch.length} "
                        f"rows can need ({most} bytes; {self.limits.cell_bytes} bytes at most in one cell, "
                        f"{CELL_BYTES_SETTING})."
                    )
                decompressed += size
            if decompressed > self.limits.decompressed_bytes:
                raise TooLargeError(
                    f"The Arrow IPC {kind} decompresses to more than {self.limits.decompressed_bytes} bytes, the most "
                    f"accepted ({BYTES_PER_CELL} bytes for each of the {self.limits.cells} cells of {CELLS_SETTING})."
                )
        return long_text

    def _arrow_cell_sizes(self, column: pa.ChunkedArray, name: str) -> None:
        """413 for a text or binary value over ``cell_bytes`` in ``column`` (its dictionary, if encoded)."""
        offset = 0
        for chunk in column.chunks:
            encoded = pa.types.is_dictionary(chunk.type)
            values = chunk.dictionary if encoded else chunk
            values = values.storage if isinstance(values.type, pa.ExtensionType) else values
            if _is_text(values.type) and len(values):
                if pa.types.is_string_view(values.type) or pa.types.is_binary_view(values.type):
                    values = values.cast(pa.large_binary())  # no length kernel for views
                lengths = pc.binary_length(values)
                longest = pc.max(lengths).as_py() or 0
                if longest > self.limits.cell_bytes:
                    if encoded:
                        where = f"The dictionary of Arrow column {quoted(name)}"
                    else:
                        row = offset + int(pc.index(lengths, longest).as_py()) + 1
                        where = f"Arrow column {quoted(name)} at row {row}"
                    raise self.limits.cell_too_large(where, f"{longest} bytes")
            offset += len(chunk)

    def _arrow_frame(self, table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
        """The table as pandas gets it: columns converted by the rules of the module docstring, and
        no metadata (pandas' own would rebuild an index or dtypes as the sender says)."""
        index_columns = _pandas_index_columns(schema)
        names, arrays = [], []
        for name, column in zip(table.column_names, table.columns, strict=True):
            if name in index_columns:
                continue
            names.append(name)
            arrays.append(self._plain(column, name))
        try:
            return pa.Table.from_arrays(arrays, names=names).to_pandas(ignore_metadata=True)
        except (pa.ArrowException, ValueError, TypeError, KeyError, ArithmeticError) as exc:
            raise InputError(f"The Arrow IPC body cannot be made a table: {type(exc).__name__}: "
                             f"{escaped(exc, DETAIL)}") from exc

    def _plain(self, column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
        """One column with its extension unwrapped, times in seconds, odd decimals as float64."""
        dtype = column.type
        if isinstance(dtype, pa.ExtensionType):
            column = pa.chunked_array([chunk.storage for chunk in column.chunks], type=dtype.storage_type)
            dtype = column.type
        if pa.types.is_dictionary(dtype) and (_is_temporal(dtype.value_type) or _odd_decimal(dtype.value_type)):
            column = pa.chunked_array([chunk.dictionary_decode() for chunk in column.chunks], type=dtype.value_type)
            dtype = column.type
        if _is_temporal(dtype):
            return _seconds(column)
        if _odd_decimal(dtype):
            numbers = column.cast(pa.float64())
            infinite = pc.is_inf(numbers)
            if pc.any(infinite).as_py():
                row = int(pc.index(infinite, True).as_py()) + 1
                raise InputError(
                    f"Arrow column {quoted(name)} ({dtype}) holds a number {_BEYOND_FLOAT64} at row {row}."
                )
            return numbers
        return column

    # --- Matrix Market -----------------------------------------------------------------------------

    def _matrix_market(self, body: bytes) -> pd.DataFrame:
        nul = body.find(b"\x00")
        if nul >= 0:  # scipy 1.17's mmread crashes the process on a NUL in a value
            raise InputError(f"The Matrix Market body holds a NUL byte at {_position(body, nul)}; it must be text.")
        banner = body.lstrip()[:200].split(b"\n", 1)[0].split()
        if len(banner) > 3 and banner[3].lower() == b"complex":
            raise InputError(
                "The Matrix Market body holds complex values (field 'complex' in its header line): a model cannot "
                "be fed their imaginary part. Send field 'real', 'integer' or 'pattern'."
            )
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
            raise InputError(f"The Matrix Market body cannot be read: {escaped(exc, DETAIL)}") from exc
        values = matrix.data if sparse.issparse(matrix) else np.asarray(matrix)
        if values.dtype.kind == "f" and np.isinf(values).any():
            self._mtx_overflow(body, size)
        return pd.DataFrame.sparse.from_spmatrix(sparse.coo_matrix(matrix))

    def _mtx_overflow(self, body: bytes, size: "re.Match[bytes]") -> None:
        """422 for the first entry whose text is a finite number float64 cannot hold (the slow path)."""
        line_number = _line_breaks(body[:size.start()]) + 1
        for line in body[size.end():].decode("utf-8", "replace").splitlines()[1:]:
            line_number += 1
            fields = line.split()
            if not fields or fields[0].startswith("%"):
                continue
            try:
                infinite = math.isinf(float(fields[-1]))
            except ValueError:
                continue
            if infinite and not is_inf_word(fields[-1]):
                value = f" ({quoted(fields[-1])})" if self.show_values else ""
                entry = f" (row {fields[0]}, column {fields[1]})" if len(fields) >= 3 else ""
                raise InputError(
                    f"Matrix Market line {line_number}{entry} holds a number {_BEYOND_FLOAT64}{value}. Send numbers "
                    "within that range; inf and -inf are read as infinity."
                )


# --- Arrow IPC metadata, read without decompressing anything -----------------------------------------

def _arrow_error(kind: str, exc: BaseException) -> InputError:
    return InputError(f"The Arrow IPC {kind} cannot be read: {escaped(exc, DETAIL)}")


def _is_text(dtype: pa.DataType) -> bool:
    return (pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_binary(dtype)
            or pa.types.is_large_binary(dtype) or pa.types.is_string_view(dtype) or pa.types.is_binary_view(dtype))


def _is_temporal(dtype: pa.DataType) -> bool:
    return (pa.types.is_timestamp(dtype) or pa.types.is_date(dtype) or pa.types.is_time(dtype)
            or pa.types.is_duration(dtype))


def _odd_decimal(dtype: pa.DataType) -> bool:
    """A decimal Python's ``Decimal`` cannot be built from by pyarrow: negative scale, or scale above precision."""
    return pa.types.is_decimal(dtype) and not 0 <= dtype.scale <= dtype.precision


def _fixed_width(dtype: pa.DataType) -> bool:
    return (pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)
            or pa.types.is_fixed_size_binary(dtype) or _is_temporal(dtype))


@dataclass(frozen=True)
class _Layout:
    """A top-level column's buffers in a record batch, as (role, bytes per row), before variadic ones."""

    name: str
    buffers: tuple[tuple[str, int], ...]
    views: bool = False  # string_view/binary_view: variadic data buffers follow


def _layout(field: pa.Field) -> _Layout:
    """How a column of ``field``'s type lays out its buffers; 422 for a type a model cannot be fed."""
    dtype = field.type
    while isinstance(dtype, pa.ExtensionType):
        dtype = dtype.storage_type
    if pa.types.is_dictionary(dtype):
        value = dtype.value_type
        while isinstance(value, pa.ExtensionType):
            value = value.storage_type
        if _is_text(value) or _fixed_width(value) or pa.types.is_boolean(value):
            return _Layout(field.name, (("bits", 0), ("fixed", dtype.index_type.bit_width // 8)))
    elif pa.types.is_null(dtype):
        return _Layout(field.name, ())
    elif pa.types.is_boolean(dtype):
        return _Layout(field.name, (("bits", 0), ("bits", 0)))
    elif pa.types.is_string_view(dtype) or pa.types.is_binary_view(dtype):
        return _Layout(field.name, (("bits", 0), ("fixed", 16)), views=True)
    elif _is_text(dtype):
        offsets = 8 if pa.types.is_large_string(dtype) or pa.types.is_large_binary(dtype) else 4
        return _Layout(field.name, (("bits", 0), ("offsets", offsets), ("data", 0)))
    elif _fixed_width(dtype):
        return _Layout(field.name, (("bits", 0), ("fixed", dtype.bit_width // 8)))
    raise InputError(
        f"Arrow column {quoted(field.name)} has type {escaped(field.type, DETAIL)}; only flat columns (numbers, "
        "text, booleans, times, dictionaries of those) can be scored."
    )


_GENERIC = (-1, "generic", 0)  # a buffer whose column and role are not known: bounded by the loosest rule
_PADDING = 64  # bytes a writer may add to a buffer


def _buffer_bounds(layouts: list[_Layout], variadic: list[int], count: int) -> list[tuple[int, str, int]]:
    """``(column, role, bytes per row)`` of each buffer of a record batch, in order; every one generic
    when the batch's buffers do not match the schema's layout (the reader then refuses it)."""
    generic = [_GENERIC] * count
    views = iter(variadic)
    extras, total = [], 0
    for layout in layouts:
        extra = next(views, 0) if layout.views else 0  # declared by the body: checked before any list is built
        total += len(layout.buffers) + extra
        if extra < 0 or total > count:
            return generic
        extras.append(extra)
    if total != count:
        return generic
    bounds: list[tuple[int, str, int]] = []
    for column, (layout, extra) in enumerate(zip(layouts, extras, strict=True)):
        bounds.extend((column, role, width) for role, width in layout.buffers)
        bounds.extend((column, "data", 0) for _ in range(extra))
    return bounds


def _most_bytes(role: str, width: int, rows: int, cell_bytes: int) -> int:
    """The most bytes a buffer of ``role`` (``width`` bytes a value) needs for ``rows`` rows, with padding."""
    if role == "bits":
        return (rows + 7) // 8 + _PADDING
    if role == "offsets":
        return (rows + 1) * width + _PADDING
    if role == "fixed":
        return rows * width + _PADDING
    return rows * max(cell_bytes, 32) + (rows + 1) * 8 + _PADDING  # text, or a buffer of unknown role


@dataclass(frozen=True)
class _Batch:
    length: int
    buffers: list[tuple[int, int]]  # (offset in the body, length)
    compressed: bool
    variadic: list[int]
    dictionary: bool


class _Flat:
    """A table of a FlatBuffers buffer, read field by field (the Arrow IPC metadata is FlatBuffers)."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data = data
        self.position = position
        self.vtable = position - _unpack("<i", data, position)
        self.vtable_size = _unpack("<H", data, self.vtable)

    @classmethod
    def root(cls, data: bytes, start: int = 0) -> "_Flat":
        return cls(data, start + _unpack("<I", data, start))

    def _field(self, index: int) -> int:
        entry = 4 + 2 * index
        return _unpack("<H", self.data, self.vtable + entry) if entry < self.vtable_size else 0

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        offset = self._field(index)
        return _unpack(fmt, self.data, self.position + offset) if offset else default

    def table(self, index: int) -> "_Flat | None":
        offset = self._field(index)
        if not offset:
            return None
        at = self.position + offset
        return _Flat(self.data, at + _unpack("<I", self.data, at))

    def structs(self, index: int, fmt: str) -> list[tuple[int, ...]]:
        """A vector of structs (or scalars) each unpacked with ``fmt``."""
        offset = self._field(index)
        if not offset:
            return []
        at = self.position + offset
        start = at + _unpack("<I", self.data, at)
        count, width = _unpack("<I", self.data, start), struct.calcsize(fmt)
        if start + 4 + count * width > len(self.data):
            raise struct.error("vector beyond its buffer")
        return [struct.unpack_from(fmt, self.data, start + 4 + i * width) for i in range(count)]


def _unpack(fmt: str, data: bytes, position: int) -> int:
    if position < 0:
        raise struct.error("negative offset")
    return struct.unpack_from(fmt, data, position)[0]


_RECORD_BATCH, _DICTIONARY_BATCH = 3, 2  # MessageHeader union types


def _batch_metadata(message: pa.ipc.Message) -> _Batch | None:
    """A record or dictionary batch's length and buffers, from its metadata; None for other messages."""
    data = message.metadata.to_pybytes()
    root = _Flat.root(data)
    header_type, header = root.scalar(1, "<B"), root.table(2)
    if header is None or header_type not in (_RECORD_BATCH, _DICTIONARY_BATCH):
        return None
    batch = header.table(1) if header_type == _DICTIONARY_BATCH else header
    if batch is None:
        return None
    length = batch.scalar(0, "<q")
    if length < 0:
        raise struct.error(f"a batch of {length} rows")
    return _Batch(
        length=length,
        buffers=[(offset, length) for offset, length in batch.structs(2, "<qq")],
        compressed=batch.table(3) is not None,
        variadic=[count for (count,) in batch.structs(4, "<q")],
        dictionary=header_type == _DICTIONARY_BATCH,
    )


def _buffer_sizes(body: pa.Buffer | None, buffers: list[tuple[int, int]], compressed: bool) -> list[int]:
    """Each buffer's size once read: compressed, the int64 length that prefixes it (-1: stored as is)."""
    if not compressed:
        return [length for _, length in buffers]
    view = memoryview(body) if body is not None else memoryview(b"")
    sizes = []
    for offset, length in buffers:
        if length < 8 or offset < 0 or offset + 8 > len(view):
            sizes.append(max(length, 0))
            continue
        declared = struct.unpack_from("<q", view, offset)[0]
        sizes.append(length - 8 if declared == -1 else declared)
    return sizes


def _arrow_messages(body: bytes, buffer: pa.Buffer, kind: str) -> Iterator[pa.ipc.Message]:
    """The messages the reader will read: a stream's in order; a file's at the blocks its footer lists."""
    if kind == "stream":
        reader = pa.ipc.MessageReader.open_stream(buffer)
        while True:
            try:
                yield reader.read_next_message()
            except StopIteration:
                return
    footer_size = _unpack("<i", body, len(body) - 10)
    footer = _Flat.root(body, len(body) - 10 - footer_size)
    for index in (2, 3):  # dictionaries, then record batches: Block {offset, metaDataLength, bodyLength}
        for offset, _, _ in footer.structs(index, "<qi4xq"):
            if not 0 <= offset < len(body):
                raise struct.error(f"a block at offset {offset}, outside the file")
            yield pa.ipc.read_message(buffer.slice(offset))


def _seconds(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A timestamp, date, time or duration column as float64 seconds (since the epoch, since midnight, or long)."""
    dtype = column.type
    if pa.types.is_date32(dtype):
        return pc.multiply(column.cast(pa.int32()).cast(pa.float64()), 86_400.0)
    unit = "ms" if pa.types.is_date64(dtype) else dtype.unit
    raw = column.cast(pa.int32() if dtype.bit_width == 32 else pa.int64())
    # float64 holds whole seconds exactly and their fraction to about a microsecond in this century
    return pc.divide(raw.cast(pa.float64(), safe=False), {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit])


def _pandas_index_columns(schema: pa.Schema) -> set[str]:
    """The columns pandas' metadata names as the index (``__index_level_0__``...), to drop; nothing else of
    that metadata is used, and metadata that is not what pandas writes names none."""
    raw = (schema.metadata or {}).get(b"pandas")
    if not raw:
        return set()
    try:
        named = json.loads(raw).get("index_columns", [])
    except (ValueError, AttributeError, RecursionError):
        return set()
    return {name for name in named if isinstance(name, str)} if isinstance(named, list) else set()


def name_sparse_columns(frame: pd.DataFrame, colnames: Sequence[str] | None) -> pd.DataFrame:
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

