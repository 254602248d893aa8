"""``dr-onnx-score MODEL --input IN --output OUT`` (also ``python -m dr_onnx_hooks score``): a file of
any size scored by the contract ``drum score`` follows, in bounded memory.

The model is loaded by ``ModelPlan.load`` with the environment's settings, as ``load_model`` loads it,
and every chunk goes through ``ModelPlan.predict`` with the labels ``labels.request_labels`` takes
from the same arguments DRUM passes to ``score``: the prediction columns have the names and values
``drum score`` writes. Nothing here decides an output, a label or a cast.

* **Input**: CSV, Parquet, an Arrow IPC file (or stream), or a folder of Parquet files (a dataset,
  hive partitions included), recognised by its first bytes (a folder: Parquet). Read with pyarrow
  in chunks of ``--chunk-rows`` rows; only the columns the model reads (and ``--keep``) are read.
  A chunk holds at least ``settings.MIN_CHUNK_ROWS`` rows, and the last chunk takes a shorter
  remainder (``rechunk``): predictions are then bit-identical to one ``drum score`` run of the file,
  whatever the chunk size.
* **CSV columns** are read as the model's input casts them, decided once from the header, not
  guessed per block: the columns of float inputs as numbers (pandas' missing-value words, such as
  ``NA`` and ``null``, are missing), of integer inputs as 64-bit integers (so ``3.0`` there is
  refused, where pandas would have read the whole column as floats), of bool inputs as booleans, of
  string inputs as text exactly as written (``02134`` stays ``02134``, only an empty field is
  ``""``), and ``--keep`` columns the model does not read as text. Segments of whole lines are
  parsed on every CPU at once, up to the first quote character (``CsvSource``).
* **``--keep COL``** (repeatable): the column is copied into the output, first, in the order given.
  A model with one input reads every column in order, as ``drum score`` feeds it; the kept columns
  are not among them (an id column is kept, not fed).
* **Output**: CSV or Parquet by the extension (``.csv``; ``.parquet`` or ``.pq``), written under a
  temporary name in the output's folder and renamed at the end: the output name never holds half a
  file, and the temporary file is removed on any error.
* **Streaming**: a reader thread, the scorer (this thread) and a writer thread, joined by queues of
  ``QUEUED`` chunks: memory is bounded by the chunk, not the file, and reading, ``session.run``
  (which releases the GIL and uses ``DR_ONNX_INTRA_OP_THREADS``, by default the usable CPUs) and
  writing overlap.
* **Progress** on stderr when it is a terminal, or with ``--progress``: rows, rows/s, and the
  percentage and ETA when the size is known (Parquet and Arrow: rows in the metadata; CSV: bytes).
* **Errors** name the file, the row (counted from 1, the first data row of the file) and the column.
  A message from the scoring path names the row within its chunk: it is re-raised, of the same
  kind, with every ``row N`` moved by the chunk's first row (``in_rows``). A CSV value pyarrow
  cannot convert is located by a second, plain pass over the file (``_locate_csv_error``). The
  exit status is 1 for such errors, 2 for bad arguments.
"""

import argparse
import codecs
import csv
import io
import itertools
import logging
import os
import queue
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.dataset as pds
import pyarrow.ipc
import pyarrow.parquet as pq
from pandas._libs.parsers import STR_NA_VALUES  # pandas' default missing-value words, as DRUM reads a CSV

from .cpus import usable_cpus
from .errors import DrOnnxError, InputError
from .inputs import FLOAT_TYPES, INT_TYPES, InputFeed
from .inspect import model_file
from .labels import request_labels
from .plan import ModelPlan
from .quoting import listed, quoted
from .settings import MIN_CHUNK_ROWS, Settings
from .targets import CLASS_TARGETS, TARGETS, target_type

logger = logging.getLogger(__name__)

FAILED = 1  # exit status: the model, the input or the output failed
DEFAULT_CHUNK_ROWS = 16_384  # rows scored at once; measured in benchmarks/batch.py (memory grows with it)
QUEUED = 2  # chunks waiting between two threads, on each side of the scorer
CSV_SAMPLE = 1 << 20  # bytes read to estimate a CSV row's length
# pyarrow's CSV reader parses blocks of this many bytes, several ahead of the scorer: a block of
# 1/BLOCKS_PER_CHUNK of a chunk keeps that read-ahead near one chunk (benchmarks/batch.py). A block
# must hold a whole row: at least MIN_BLOCK, and ROWS_PER_BLOCK of the longest sampled row.
BLOCKS_PER_CHUNK = 8
MIN_BLOCK, MAX_BLOCK = 512 << 10, 64 << 20
ROWS_PER_BLOCK = 16
MAX_PARSERS = 4  # CSV segments parsed at once, at most one per usable CPU
SEGMENTS_PER_CHUNK = 2  # a chunk's bytes, cut into segments for the parsers
PARQUET_SUFFIXES = (".parquet", ".pq")
PARQUET_MAGIC = b"PAR1"
ARROW_FILE_MAGIC = b"ARROW1"
ARROW_STREAM_MARKER = b"\xff\xff\xff\xff"
NULL_WORDS = sorted(STR_NA_VALUES)
TRUE_WORDS, FALSE_WORDS = ("1", "True", "TRUE", "true"), ("0", "False", "FALSE", "false")  # pyarrow's

_ROW = re.compile(r"\b([Rr]ow) (\d+)\b")
_FLOAT = re.compile(r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*", re.IGNORECASE)
_INT = re.compile(r"\s*[+-]?\d+\s*")


# --- which columns are read, and as what -------------------------------------------------------

@dataclass(frozen=True)
class Columns:
    """The input's columns as the model reads them: decided once from the header or schema."""

    names: tuple[str, ...]  # every column of the input, in its order
    features: tuple[str, ...]  # read for the model, in the input's order
    keep: tuple[str, ...]  # copied into the output, first, in the order asked
    types: dict[str, str]  # feature column -> element type of the input that reads it

    @property
    def read(self) -> list[str]:
        """The columns read from the file, in the file's order."""
        wanted = set(self.features) | set(self.keep)
        return [name for name in self.names if name in wanted]


def plan_columns(feed: InputFeed, names: Sequence[str], keep: Sequence[str], where: str) -> Columns:
    """What to read of an input whose columns are ``names``; ``where`` names the input in messages.

    A model with one input reads every column but the kept ones; a model with several reads, for each
    input, the columns ``InputFeed.columns`` names (exact, else ignoring case). A column the model
    wants but the input lacks is left to the feed, whose message names what each input reads.
    """
    names = [str(n) for n in names]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"{where}: column(s) {listed(repeated)} appear more than once; name each column once.")
    missing = [k for k in keep if k not in names]
    if missing:
        raise InputError(
            f"{where}: --keep names {listed(missing)}, which it does not have; its columns: {listed(names)}."
        )
    keep = tuple(dict.fromkeys(keep))
    if not feed.by_name:
        only = feed.inputs[0].onnx_type
        features = tuple(n for n in names if n not in keep)
        return Columns(tuple(names), features, keep, dict.fromkeys(features, only))
    folded: dict[str, list[str]] = {}
    for name in names:
        folded.setdefault(name.casefold(), []).append(name)
    types: dict[str, str] = {}
    for model_input in feed.inputs:
        for column in feed.columns[model_input.name]:
            found = [column] if column in names else folded.get(column.casefold(), [])
            if len(found) == 1:
                types[found[0]] = model_input.onnx_type
    return Columns(tuple(names), tuple(n for n in names if n in types), keep, types)


def prediction_columns(
    plan: ModelPlan, columns: Columns, target: str, labels: tuple[str, ...], where: str
) -> list[str]:
    """Zero rows through ``predict``: a column the model needs and the input lacks, a target the model
    cannot serve, fail before anything is read or written. The prediction columns' names."""
    given = [n for n in columns.names if n not in columns.keep] if not plan.feed.by_name else list(columns.names)
    try:
        empty = plan.predict(pd.DataFrame({n: pd.Series([], dtype=object) for n in given}), target, labels)
    except DrOnnxError as exc:
        raise type(exc)(f"{where}: {exc}") from exc
    return [str(name) for name in empty.columns]


# --- reading -----------------------------------------------------------------------------------

class Source:
    """An input read in chunks: ``columns`` says what is read, ``chunks`` yields ``(first row, table)``."""

    path: Path
    kind: str
    schema_names: list[str]
    schema: pa.Schema | None = None  # None for CSV, whose columns are read as ``columns`` says
    total_rows: int | None = None  # when the metadata says

    def batches(self, columns: Columns) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def empty(self, columns: Columns) -> pa.Table:
        """No rows, with the columns and types ``batches`` would give."""
        assert self.schema is not None
        return self.schema.empty_table().select(columns.read)

    def done(self) -> float | None:
        """The fraction of the input read so far, when it can be told."""
        return None

    def chunks(self, columns: Columns, rows: int) -> Iterator[tuple[int, pa.Table]]:
        return rechunk(self.batches(columns), rows)


def rechunk(
    batches: Iterable[pa.RecordBatch], rows: int, least: int = MIN_CHUNK_ROWS
) -> Iterator[tuple[int, pa.Table]]:
    """``(first row, table)`` of ``rows`` rows each, without copying, and never a remainder shorter
    than ``least`` after the first chunk: the last chunk takes it, up to ``rows + least - 1`` rows.

    onnxruntime picks kernels by batch size, and they round differently (``run``): a short last
    chunk would change the last bits of its rows' predictions, which one ``drum score`` run of the
    whole file computes with the large-batch kernels.
    """
    pending: list[pa.RecordBatch] = []
    held = start = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        held += batch.num_rows
        while held >= rows + least:
            table = pa.Table.from_batches(pending)
            yield start, table.slice(0, rows)
            start += rows
            held -= rows
            pending = table.slice(rows).to_batches()
    if held:
        yield start, pa.Table.from_batches(pending)


class CsvSource(Source):
    """A CSV read in order by ``PARSERS`` threads at once, each parsing a segment of whole lines.

    pyarrow's streaming reader parses one block at a time, on one core. Lines split at ``\\n`` are
    records as long as no field is quoted (a quoted field may hold a line break), so segments are
    cut at the last line break of each ``segment_bytes`` read and parsed side by side
    (``pyarrow.csv.read_csv`` releases the GIL). From the first segment that holds a quote
    character on, the rest of the file goes to the streaming reader, which follows quotes across
    lines: a file of numbers is parsed on every core, and a file of quoted text still correctly.
    """

    kind = "CSV"

    def __init__(self, path: Path, chunk_rows: int, show_values: bool = False) -> None:
        self.path = path
        self.show_values = show_values
        with open(path, "rb") as file:
            sample = file.read(CSV_SAMPLE)
        self.size = path.stat().st_size
        self.data_start = _header_end(sample, complete=len(sample) == self.size)
        head = sample[: self.data_start] if self.data_start is not None else sample
        text = io.TextIOWrapper(io.BytesIO(head), encoding="utf-8-sig", errors="replace", newline="")
        header = next((row for row in csv.reader(text) if row), None)
        if header is None:
            raise InputError(f"{path}: the file is empty; a CSV needs a header line naming its columns.")
        self.schema_names = header
        lines = sample.split(b"\n")
        row_bytes = len(sample) / max(1, len(lines) - 1)
        longest = max(map(len, lines))
        wanted = max(MIN_BLOCK, ROWS_PER_BLOCK * longest, chunk_rows * row_bytes / BLOCKS_PER_CHUNK)
        self.block_size = int(min(MAX_BLOCK, wanted))
        segment = max(MIN_BLOCK, ROWS_PER_BLOCK * longest, chunk_rows * row_bytes / SEGMENTS_PER_CHUNK)
        self.segment_bytes = int(min(MAX_BLOCK, segment))
        self.parsers = max(1, min(MAX_PARSERS, usable_cpus()))
        self._position = 0  # bytes handed to the parsers so far
        self._file: pa.NativeFile | None = None  # the streaming reader's, once it reads

    def empty(self, columns: Columns) -> pa.Table:
        return pa.schema([(name, _arrow_type(columns.types.get(name))) for name in columns.read]).empty_table()

    def batches(self, columns: Columns) -> Iterator[pa.RecordBatch]:
        types = {name: _arrow_type(columns.types.get(name)) for name in columns.read}
        parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=len(self.schema_names) > 1)
        convert = pcsv.ConvertOptions(
            column_types=types, include_columns=columns.read, null_values=NULL_WORDS,
            true_values=list(TRUE_WORDS), false_values=list(FALSE_WORDS), strings_can_be_null=False,
        )
        try:
            rest: int | None = 0
            if self.data_start is not None:
                rest = yield from self._segments(self.data_start, parse, convert)
            if rest is not None:
                yield from self._stream(rest, parse, convert)
        except pa.ArrowInvalid as exc:
            raise _located_csv_error(self.path, exc, columns, types, self.show_values) from exc

    def _segments(
        self, start: int, parse: pcsv.ParseOptions, convert: pcsv.ConvertOptions
    ) -> Generator[pa.RecordBatch, None, int | None]:
        """The batches of the segments parsed side by side, in order; where the streaming reader must
        take over (a quote, or no line break in a segment), or None at the end of the file."""
        read = pcsv.ReadOptions(column_names=self.schema_names, use_threads=False)

        def parsed(data: bytes) -> pa.Table:
            return pcsv.read_csv(pa.py_buffer(data), read_options=read, parse_options=parse, convert_options=convert)

        pending: deque[Future[pa.Table]] = deque()
        rest: int | None = None
        with open(self.path, "rb") as file, ThreadPoolExecutor(self.parsers, "dr-onnx-score csv") as pool:
            file.seek(start)
            offset, carry = start, b""
            while True:
                block = file.read(self.segment_bytes)
                data = carry + block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                if b'"' in data[:cut] or (block and cut == 0):
                    rest = offset
                    break
                if cut:
                    pending.append(pool.submit(parsed, data[:cut]))
                    offset += cut
                    self._position = offset
                carry = data[cut:]
                while len(pending) > self.parsers or (pending and not block):
                    yield from pending.popleft().result().to_batches()
                if not block:
                    break
            while pending:
                yield from pending.popleft().result().to_batches()
        return rest

    def _stream(
        self, start: int, parse: pcsv.ParseOptions, convert: pcsv.ConvertOptions
    ) -> Iterator[pa.RecordBatch]:
        """pyarrow's streaming reader from byte ``start``: the file's own header at 0, else a line's start."""
        self._file = pa.OSFile(str(self.path))
        try:
            self._file.seek(start)
            names = {"column_names": self.schema_names} if start else {}
            yield from pcsv.open_csv(
                self._file, read_options=pcsv.ReadOptions(block_size=self.block_size, use_threads=True, **names),
                parse_options=parse, convert_options=convert,
            )
        finally:
            self._file.close()

    def done(self) -> float | None:
        file = self._file
        try:
            position = file.tell() if file is not None and not file.closed else self._position
        except (OSError, ValueError):
            return None
        return min(1.0, position / self.size) if self.size else None


def _header_end(sample: bytes, complete: bool) -> int | None:
    """The offset where the data starts: after a BOM, blank lines and the header record (its quotes
    may hold line breaks). None when the header does not end within ``sample``."""
    start = len(codecs.BOM_UTF8) if sample.startswith(codecs.BOM_UTF8) else 0
    while sample[start:start + 1] in (b"\n", b"\r"):
        start += 1
    position = start
    while True:
        newline = sample.find(b"\n", position)
        if newline < 0:
            return len(sample) if complete else None
        if sample.count(b'"', start, newline) % 2 == 0:
            return newline + 1
        position = newline + 1


def _arrow_type(onnx_type: str | None) -> pa.DataType:
    """The type a CSV column is read as, for the element type of the input that reads it (None: kept only)."""
    if onnx_type in FLOAT_TYPES:
        return pa.float64()
    if onnx_type in INT_TYPES:
        return pa.uint64() if onnx_type == "tensor(uint64)" else pa.int64()
    if onnx_type == "tensor(bool)":
        return pa.bool_()
    return pa.string()


class ParquetSource(Source):
    kind = "Parquet"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        self.path = path
        try:
            self.file = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)  # page by page: less memory
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: cannot be read as Parquet: {exc}") from exc
        self.schema = self.file.schema_arrow
        self.schema_names = self.schema.names
        self.total_rows = self.file.metadata.num_rows
        self.chunk_rows = chunk_rows

    def batches(self, columns: Columns) -> Iterator[pa.RecordBatch]:
        yield from self.file.iter_batches(batch_size=self.chunk_rows, columns=columns.read)


class DatasetSource(Source):
    kind = "Parquet folder"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        self.path = path
        try:
            self.dataset = pds.dataset(path, format="parquet", partitioning="hive")
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{path}: cannot be read as a folder of Parquet files: {exc}") from exc
        if not self.dataset.files:
            raise InputError(f"{path}: the folder holds no Parquet files.")
        self.schema = self.dataset.schema
        self.schema_names = self.schema.names
        self.total_rows = self.dataset.count_rows()
        self.chunk_rows = chunk_rows

    def batches(self, columns: Columns) -> Iterator[pa.RecordBatch]:
        yield from self.dataset.to_batches(
            columns=columns.read, batch_size=self.chunk_rows, batch_readahead=QUEUED, fragment_readahead=1
        )


class ArrowSource(Source):
    kind = "Arrow IPC"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        self.path = path
        try:
            self.reader = pa.ipc.open_file(pa.memory_map(str(path)))
            self.stream = False
            self.total_rows = sum(
                self.reader.get_batch(i).num_rows for i in range(self.reader.num_record_batches)
            )  # a mapped batch is read lazily: this reads only the batches' headers
        except pa.ArrowInvalid:
            self.reader = pa.ipc.open_stream(pa.memory_map(str(path)))
            self.stream = True
        self.schema = self.reader.schema
        self.schema_names = self.schema.names

    def batches(self, columns: Columns) -> Iterator[pa.RecordBatch]:
        read = columns.read
        if self.stream:
            for batch in self.reader:
                yield batch.select(read)
        else:
            for i in range(self.reader.num_record_batches):
                yield self.reader.get_batch(i).select(read)


def open_source(path: Path, chunk_rows: int, show_values: bool = False) -> Source:
    """The reader for ``path``: a folder is Parquet files; a file is known by its first bytes."""
    if path.is_dir():
        return DatasetSource(path, chunk_rows)
    if not path.is_file():
        raise InputError(f"{str(path)!r} does not exist.")
    with open(path, "rb") as file:
        head = file.read(8)
    try:
        if head.startswith(PARQUET_MAGIC):
            return ParquetSource(path, chunk_rows)
        if head.startswith(ARROW_FILE_MAGIC) or head.startswith(ARROW_STREAM_MARKER):
            return ArrowSource(path, chunk_rows)
        return CsvSource(path, chunk_rows, show_values)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from exc


# --- errors, located in the file ---------------------------------------------------------------

def in_rows(exc: DrOnnxError, where: str, start: int, rows: int) -> DrOnnxError:
    """``exc`` as the same kind of error, saying the file and the rows as counted in the file: every
    ``row N`` (within the chunk) becomes ``row start + N``; a message without one gets the chunk's rows."""
    moved, found = _ROW.subn(lambda m: f"{m[1]} {int(m[2]) + start}", str(exc))
    if not found:
        moved = f"rows {start + 1}-{start + rows}: {moved}"
    return type(exc)(f"{where}: {moved}")


def _located_csv_error(
    path: Path, exc: pa.ArrowInvalid, columns: Columns, types: dict[str, pa.DataType], show_values: bool
) -> InputError:
    """pyarrow's CSV error, with the row (and column) it does not name, found by a plain second pass."""
    text = str(exc)
    where = _locate_csv_error(path, columns, types, show_values)
    if where is None:
        return InputError(f"{path}: the CSV cannot be read: {text}")
    row, column, problem = where
    if column is None:
        return InputError(f"{path}: row {row} {problem}")
    model_input = columns.types.get(column)
    expects = f"; the model reads it as {model_input}" if model_input else ""
    return InputError(f"{path}: row {row}, column {quoted(column)}: {problem}{expects}.")


def _locate_csv_error(
    path: Path, columns: Columns, types: dict[str, pa.DataType], show_values: bool
) -> tuple[int, str | None, str] | None:
    """The first data row (from 1) pyarrow would refuse: a row with the wrong number of fields, or a
    value its column's type cannot take. None when this pass finds nothing wrong."""
    nulls = set(NULL_WORDS)
    checks: list[tuple[int, str, Callable[[str], bool], str]] = []
    for position, name in enumerate(columns.names):
        kind = types.get(name)
        if kind is None:
            continue
        if pa.types.is_floating(kind):
            checks.append((position, name, lambda v: v in nulls or bool(_FLOAT.fullmatch(v)), "is not a number"))
        elif pa.types.is_integer(kind):
            checks.append((position, name, lambda v: v in nulls or _whole(v), "is not a whole number"))
        elif pa.types.is_boolean(kind):
            checks.append((
                position, name, lambda v: v in nulls or v in TRUE_WORDS or v in FALSE_WORDS,
                "is not True/False or 1/0",
            ))
        else:
            checks.append((position, name, lambda v: not _surrogates(v), "is not UTF-8 text"))
    width = len(columns.names)
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as file:
        records = (record for record in csv.reader(file) if record)
        next(records, None)  # the header
        for row, record in enumerate(records, start=1):
            if len(record) != width:
                return row, None, f"has {len(record)} fields; the header has {width}. Quote values that contain commas."
            for position, name, fits, problem in checks:
                value = record[position]
                if not fits(value):
                    return row, name, f"{_shown_text(value, show_values)} {problem}"
    return None


def _whole(value: str) -> bool:
    return bool(_INT.fullmatch(value)) and -(2**63) <= int(value) < 2**64


def _surrogates(value: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in value)


def _shown_text(value: str, show_values: bool) -> str:
    """A CSV field in a message: the value when ``DR_ONNX_LOG_VALUES`` is on, else its length only."""
    if show_values:
        return quoted(value.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    return f"a value of {len(value)} characters" if value else "an empty value"


# --- writing -----------------------------------------------------------------------------------

class Sink:
    """The output, written under a temporary name in its folder and renamed into place by ``commit``."""

    def __init__(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            self.kind = "CSV"
        elif suffix in PARQUET_SUFFIXES:
            self.kind = "Parquet"
        else:
            raise InputError(f"--output {str(path)!r}: name it .csv or .parquet; the extension says the format.")
        if not path.parent.is_dir():
            raise InputError(f"--output {str(path)!r}: the folder {str(path.parent)!r} does not exist.")
        self.path = path
        self.partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._writer: Any = None
        self._stream: pa.NativeFile | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            if self.kind == "CSV":
                self._stream = pa.OSFile(str(self.partial), "wb")
                self._writer = pcsv.CSVWriter(self._stream, table.schema)
            else:
                self._writer = pq.ParquetWriter(str(self.partial), table.schema)
        self._writer.write_table(table) if self.kind == "Parquet" else self._writer.write(table)

    def commit(self) -> None:
        self._close()
        os.replace(self.partial, self.path)

    def discard(self) -> None:
        try:
            self._close()
        finally:
            self.partial.unlink(missing_ok=True)

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        stream, self._stream = self._stream, None
        try:
            if writer is not None:
                writer.close()
        finally:
            if stream is not None:
                stream.close()


# --- progress ----------------------------------------------------------------------------------

class Progress:
    """Rows, rows/s and the ETA on ``stream``: redrawn in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, stream: TextIO | None, source: Source) -> None:
        self.stream = stream
        self.source = source
        self.live = bool(stream is not None and stream.isatty())
        self.interval = 0.5 if self.live else 5.0
        self.started = time.monotonic()
        self.shown = self.started

    def update(self, rows: int) -> None:
        now = time.monotonic()
        if self.stream is None or now - self.shown < self.interval:
            return
        self.shown = now
        elapsed = now - self.started
        fraction = rows / self.source.total_rows if self.source.total_rows else self.source.done()
        text = f"{rows:,} rows, {rows / elapsed:,.0f} rows/s"
        if fraction:
            left = elapsed * (1 - fraction) / fraction
            text += f", {100 * fraction:.0f}%, ETA {_duration(left)}"
        self._show(text)

    def finish(self, rows: int, output: Path) -> None:
        if self.stream is None:
            return
        elapsed = time.monotonic() - self.started
        rate = rows / max(elapsed, 1e-9)
        self._show(f"{rows:,} rows scored in {_duration(elapsed)} ({rate:,.0f} rows/s) -> {output}")
        if self.live:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self, text: str) -> None:
        assert self.stream is not None
        self.stream.write(f"\r{text}\x1b[K" if self.live else f"dr-onnx-score: {text}\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else (
        f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
    )


# --- the pipeline ------------------------------------------------------------------------------

_END = object()


class _Stage(threading.Thread):
    """A thread that keeps its exception for the scorer to raise."""

    def __init__(self, name: str, work: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # handed to the scorer, which raises it
            self.error = exc


def _put(into: "queue.Queue[Any]", item: Any, cancelled: Callable[[], bool]) -> bool:
    """Put ``item``, waiting for room, unless ``cancelled()`` first; whether it was put."""
    while not cancelled():
        try:
            into.put(item, timeout=0.1)
            return True
        except queue.Full:
            pass
    return False


def _drain(items: "queue.Queue[Any]") -> None:
    while True:
        try:
            items.get_nowait()
        except queue.Empty:
            return


def _pipeline(chunks: Iterator[tuple[int, pa.Table]], scored: Callable[[int, pa.Table], pa.Table], sink: "Sink",
              progress: "Progress") -> int:
    """Reader thread -> scorer (this thread) -> writer thread, ``QUEUED`` chunks between each two; the
    rows written. The output is renamed into place once all is written, and discarded when anything
    fails or is interrupted."""
    stop = threading.Event()
    read: queue.Queue[Any] = queue.Queue(QUEUED)
    done: queue.Queue[Any] = queue.Queue(QUEUED)
    written = 0

    def reader() -> None:
        try:
            for item in chunks:
                if not _put(read, item, stop.is_set):
                    return
        finally:
            _put(read, _END, stop.is_set)

    def writer() -> None:
        nonlocal written
        while (table := done.get()) is not _END:
            sink.write(table)
            written += table.num_rows
            progress.update(written)

    reading, writing = _Stage("dr-onnx-score reader", reader), _Stage("dr-onnx-score writer", writer)
    writer_stopped = lambda: stop.is_set() or writing.error is not None  # noqa: E731
    committed = False
    reading.start()
    writing.start()
    try:
        while (item := read.get()) is not _END:
            if not _put(done, scored(*item), writer_stopped):
                break
        reading.join()  # its error, if any, is set once it has ended
        if reading.error is not None:
            raise reading.error
        if _put(done, _END, writer_stopped):
            writing.join()
        if writing.error is not None:
            raise writing.error
        sink.commit()
        committed = True
        return written
    finally:
        stop.set()
        _drain(read)
        reading.join()
        if writing.is_alive():
            _drain(done)
            done.put(_END)
            writing.join()
        if not committed:
            sink.discard()


# --- the job -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One scoring job, as the command line asks it."""

    model: Path
    input: Path
    output: Path
    target_type: str | None = None  # None: TARGET_TYPE
    positive_class_label: str | None = None
    negative_class_label: str | None = None
    class_labels: tuple[str, ...] | None = None
    keep: tuple[str, ...] = ()
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    progress: TextIO | None = None  # where progress goes; None: nowhere


def score_file(job: Job, settings: Settings | None = None) -> int:
    """Score ``job.input`` into ``job.output``; the number of rows scored.

    Raises ``DrOnnxError`` naming the file, row and column (or ``OSError``); the output name is then
    left as it was. ``settings`` default to the environment's (``Settings.read``).
    """
    settings = settings or Settings.read()
    if job.target_type:
        settings = replace(settings, target_type=job.target_type.lower())
    sink = Sink(job.output)
    if job.input.exists() and job.input.resolve() == job.output.resolve():
        raise InputError(f"--output {str(job.output)!r} is the input; write the predictions to another file.")
    plan = ModelPlan.load(model_file(job.model), settings)
    kwargs = {
        "target_type": settings.target_type, "positive_class_label": job.positive_class_label,
        "negative_class_label": job.negative_class_label, "class_labels": list(job.class_labels or ()) or None,
    }  # as DRUM passes them to ``score``
    target = target_type(kwargs, settings.target_type)
    labels = request_labels(target, kwargs) if target in CLASS_TARGETS else ()
    chunk_rows = max(job.chunk_rows, MIN_CHUNK_ROWS)  # smaller runs round differently (``rechunk``)
    source = open_source(job.input, chunk_rows, settings.show_values)
    where = str(job.input)
    columns = plan_columns(plan.feed, source.schema_names, job.keep, where)
    predicted = prediction_columns(plan, columns, target, labels, where)
    clash = [name for name in predicted if name in columns.keep]
    if clash:
        raise InputError(f"--keep {listed(clash)}: the predictions have a column of that name; keep another.")
    features = list(columns.features)

    def scored(start: int, table: pa.Table) -> pa.Table:
        frame = table.select(features).to_pandas(use_threads=False)  # arrow's pool costs 15x on small chunks
        try:
            predictions = plan.predict(frame, target, labels)
        except DrOnnxError as exc:
            raise in_rows(exc, where, start, table.num_rows) from exc
        arrays = [table.column(name) for name in columns.keep]
        arrays += [_values(predictions[name]) for name in predictions.columns]
        return pa.Table.from_arrays(arrays, names=[*columns.keep, *map(str, predictions.columns)])

    progress = Progress(job.progress, source)
    chunks = source.chunks(columns, chunk_rows)
    first = next(chunks, None)  # an input without rows still gets its header, from an empty chunk
    rows = _pipeline(itertools.chain([first or (0, source.empty(columns))], chunks), scored, sink, progress)
    progress.finish(rows, job.output)
    return rows


def _values(column: pd.Series) -> pa.Array:
    """A prediction column as ``drum score`` writes it: of the type ``predict`` gives (a float32 regression
    output stays float32, as pandas writes it), float64 for the empty column of an input without rows."""
    values = column.to_numpy()
    return pa.array(values, type=pa.float64() if values.dtype == object else None)


# --- the command line --------------------------------------------------------------------------

def _labels_file(path: str) -> list[str]:
    """Class labels from a file, one per line, read as ``drum score --class-labels-file`` reads them."""
    with open(path) as file:
        return [label for label in file.read().split(os.linesep) if label]


def _rows(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL", help="a model folder (one .onnx file) or an .onnx file")
    parser.add_argument(
        "--input", "-i", type=Path, required=True, help="a CSV, Parquet or Arrow IPC file, or a folder of Parquet files"
    )
    parser.add_argument("--output", "-o", type=Path, required=True, help="the predictions: a .csv or .parquet file")
    parser.add_argument(
        "--target-type", choices=TARGETS, type=str.lower, help="as drum score's (default: TARGET_TYPE)"
    )
    parser.add_argument("--positive-class-label", help="binary: the positive class, as drum score's")
    parser.add_argument("--negative-class-label", help="binary: the negative class, as drum score's")
    labels = parser.add_mutually_exclusive_group()
    labels.add_argument("--class-labels", nargs="+", metavar="LABEL", help="multiclass: the labels, as drum score's")
    labels.add_argument("--class-labels-file", metavar="FILE", help="multiclass: a file of class labels, one per line")
    parser.add_argument(
        "--keep", action="append", default=[], metavar="COL",
        help="copy this input column into the output, first (repeatable); not fed to a one-input model",
    )
    parser.add_argument(
        "--chunk-rows", type=_rows, default=DEFAULT_CHUNK_ROWS, metavar="N",
        help=f"rows scored at once, at least {MIN_CHUNK_ROWS}; memory grows with it (default {DEFAULT_CHUNK_ROWS})",
    )
    parser.add_argument("--progress", action="store_true", help="progress on stderr even when it is not a terminal")


def run(args: argparse.Namespace) -> int:
    """Run the parsed command line; the exit status."""
    logging.basicConfig(level=logging.WARNING, format="dr-onnx-score: %(levelname)s: %(message)s")
    logging.getLogger(__package__).setLevel(logging.WARNING)  # the load line is for servers' logs; warnings show
    try:
        class_labels = _labels_file(args.class_labels_file) if args.class_labels_file else args.class_labels
        job = Job(
            model=args.model, input=args.input, output=args.output, target_type=args.target_type,
            positive_class_label=args.positive_class_label, negative_class_label=args.negative_class_label,
            class_labels=tuple(class_labels) if class_labels else None, keep=tuple(args.keep),
            chunk_rows=args.chunk_rows, progress=sys.stderr if args.progress or sys.stderr.isatty() else None,
        )
        score_file(job)
    except DrOnnxError as exc:
        print(f"dr-onnx-score: error: {exc}", file=sys.stderr)
        return FAILED
    except OSError as exc:
        print(f"dr-onnx-score: error: {exc}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        print("dr-onnx-score: interrupted; no output written", file=sys.stderr)
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``dr-onnx-score`` console script."""
    parser = argparse.ArgumentParser(
        prog="dr-onnx-score",
        description="Score a CSV, Parquet or Arrow file with an ONNX model, by the contract drum score follows.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
