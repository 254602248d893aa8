"""The input feed, from DataFrame columns to the arrays the model's inputs declare.

Decided once at load, per declared input: which columns feed it, the numpy type to cast to and
the shape to give the array. Per request: one selection and one cast per input.

* One input: every column of the frame, in order, as one 2-D array (``[N, F]``; a rank-1 input
  ``[N]`` takes a single column; a higher rank is reshaped from ``N x prod(dims)`` columns).
* Several inputs: columns are read by name, decided at load for each input from its width ``w``
  (the product of its fixed dimensions after the batch):

  - ``w == 1`` (``[N, 1]``, ``[N]``; e.g. skl2onnx ``ColumnTransformer`` pipelines with one input
    per column): the column named like the input, ``age`` for input ``age``;
  - ``w > 1`` (e.g. ``num`` ``[N, 3]``): the columns ``num_0``, ``num_1``, ``num_2``, in that order
    (``<name>_<i>``, i from 0 to w - 1), reshaped as declared when the rank is above 2;
  - a width that is not fixed (``[N, "F"]``) cannot be read by name: the load fails saying so.

  Each name is matched exactly, else case-insensitively when that is unambiguous. Columns no input
  reads (an ID, the target) and the order of the columns sent are ignored. Missing columns are a
  422 naming them, the columns each input reads and the columns received.

Casts (rows are counted from 1, the first data row):
* float, double, float16: NaN and ±inf sent as infinity (``inf``, ``-Infinity``, a float ±inf)
  pass through to the model; text that is not a number, a finite number beyond the type's range
  (1e300 for float), and text or an integer beyond float64 itself (``"1e400"``, 401 digits) are errors.
* int8..int64, uint8..uint64: every value must be a whole number within the type's range;
  NaN or a fraction is an error naming the column and row.
* bool: 0/1 or True/False.
* string: values become text, column by column; a missing value becomes ``""`` and a whole
  number is written without a fraction (``3``, not ``3.0``), so a code column reads the same
  whether or not a blank cell made ``pd.read_csv`` parse it as float.

A refused cell is named by its column and row and described by its kind and size (``text of 15
characters``, ``a whole number of 401 digits``, ``a number with a fraction``), never by its content:
the message goes back to the caller and into DRUM's log. ``InputFeed(..., show_values=True)``
(``DR_ONNX_LOG_VALUES``) adds the content, quoted and capped. Column and input names are quoted,
escaped and capped (``quoting``).
"""

import decimal
import math
import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InputError, ModelError
from .quoting import LISTED, listed, quoted

Dim = int | str | None
Caster = Callable[[pd.DataFrame, str, bool], np.ndarray]

FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}
INT_TYPES = {
    f"tensor({name})": getattr(np, name)
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
}
FLOAT64_MAX = float(np.finfo(np.float64).max)
EXACT_FLOAT_INTEGERS = 2.0**53  # below it a whole float is written as an integer ("3", not "3.0"); above, as a float
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*")
INF_WORDS = frozenset({"inf", "infinity"})  # what pandas and float() read as infinity, after an optional sign


def _row(position: int) -> str:
    return f"row {position + 1}"


def is_inf_word(text: str) -> bool:
    """Whether ``text`` spells infinity (``inf``, ``-Infinity``, ``+INF``...), rather than a finite number too large."""
    return text.strip().lstrip("+-").lower() in INF_WORDS


def _digits(number: int) -> str:
    """``3 digits``: how many decimal digits ``number`` has, without writing it out when it is huge."""
    number = abs(number)
    if number.bit_length() < 10_000:  # str() of up to ~3,000 digits: quick, and within Python's int-string limit
        count = len(str(number))
        return f"{count} digit{'s' if count != 1 else ''}"
    return f"about {int(number.bit_length() * math.log10(2)) + 1} digits"


def _whole(number: int) -> str:
    return f"{'a negative' if number < 0 else 'a'} whole number of {_digits(number)}"


def kind_of(value: object) -> str:
    """What a cell holds, without its content: ``text of 15 characters``, ``a whole number of 401 digits``."""
    if isinstance(value, str):
        return f"text of {len(value)} character{'s' if len(value) != 1 else ''}"
    if isinstance(value, bytes):
        return f"{len(value)} bytes"
    try:
        if pd.isna(value):
            return "a missing value"
    except (TypeError, ValueError):  # an array-like cell
        return f"a value of type {type(value).__name__}"
    if isinstance(value, (bool, np.bool_)):
        return "a boolean"
    if isinstance(value, (int, np.integer)):
        return _whole(int(value))
    if isinstance(value, numbers.Real):  # floats, numpy floats, decimals
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return "a number beyond the range of float64"
        if math.isinf(number):
            infinite = isinstance(value, (float, np.floating)) or (
                isinstance(value, decimal.Decimal) and value.is_infinite()
            )
            return "an infinite number" if infinite else "a number beyond the range of float64"
        return _whole(int(number)) if number.is_integer() else "a number with a fraction"
    return f"a value of type {type(value).__name__}"


def shown(value: object, show_values: bool) -> str:
    """A cell as a message shows it: its kind and size, and its content (quoted, capped) only with ``show_values``."""
    kind = kind_of(value)
    if not show_values or kind == "a missing value":
        return kind
    try:
        text = value if isinstance(value, str) else str(value.item() if isinstance(value, np.generic) else value)
    except ValueError:  # an integer beyond Python's int-string limit
        return kind
    return f"{kind}, {quoted(text)},"


def _refuse_cell(frame: pd.DataFrame, row: int, column: int, show_values: bool, why: str) -> None:
    value = frame.iat[row, column]
    raise InputError(f"Column {quoted(frame.columns[column])} holds {shown(value, show_values)} at {_row(row)}{why}")


def _overflowed(column: pd.Series, numbers: np.ndarray) -> np.ndarray:
    """Cells that became ±inf from a value that is not infinity: a finite number or text beyond float64."""
    overflow = np.zeros(len(numbers), dtype=bool)
    for position in np.flatnonzero(np.isinf(numbers)):
        value = column.iloc[position]
        if isinstance(value, str):
            overflow[position] = not is_inf_word(value)
        else:
            overflow[position] = not (isinstance(value, (float, np.floating)) and math.isinf(value))
    return overflow


def _column_numbers(column: pd.Series) -> np.ndarray:
    """One column as float64: NaN for what is not a number, ±inf for a number beyond float64."""
    try:
        return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    except OverflowError:  # a whole number beyond float64 (a JSON or CSV integer of 309+ digits)
        return np.array([_one_number(value) for value in column], dtype=np.float64)


def _one_number(value: object) -> float:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return float(pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0])


def _long_integers(column: pd.Series, numbers: np.ndarray, bad: np.ndarray) -> None:
    """Text of more digits than Python converts to a number (4,300) is a number beyond float64, not text:
    made ±inf in ``numbers`` and unmarked in ``bad``, in place."""
    for position in np.flatnonzero(bad):
        value = column.iloc[position]
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            numbers[position] = -math.inf if value.strip().startswith("-") else math.inf
            bad[position] = False


def _numbers(
    frame: pd.DataFrame, input_name: str, onnx_type: str, show_values: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The frame as float64, naming the first cell that is not a number; and the cells that overflowed
    float64 (±inf from a finite number or text, not from infinity)."""
    columns, overflows = [], []
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        numbers = _column_numbers(series)
        bad = np.isnan(numbers) & series.notna().to_numpy()
        if bad.any():
            numbers = numbers.copy()
            _long_integers(series, numbers, bad)
        if bad.any():
            _refuse_cell(
                frame, int(np.argmax(bad)), i, show_values,
                f", which is not a number; model input {quoted(input_name)} expects {onnx_type}.",
            )
        columns.append(numbers)
        overflows.append(_overflowed(series, numbers) if np.isinf(numbers).any() else np.zeros(len(numbers), bool))
    if not columns:
        return np.empty((len(frame), 0)), np.zeros((len(frame), 0), dtype=bool)
    return np.column_stack(columns), np.column_stack(overflows)


def _refuse_marked_cells(frame: pd.DataFrame, bad: np.ndarray, show_values: bool, why: str) -> None:
    """A 422 naming the first cell ``bad`` marks (in row order), followed by ``why``; nothing if none is."""
    if bad.any():
        row, column = np.argwhere(bad)[0]
        _refuse_cell(frame, int(row), int(column), show_values, why)


def _textual(frame: pd.DataFrame) -> bool:
    """Whether a column holds something other than numbers (text or mixed objects): its cast may overflow."""
    return any(dtype.kind not in "biuf" for dtype in frame.dtypes)


SMALL_ARRAY = 1 << 16  # cells up to which a look at the array is quicker than pandas' dtypes (~20 us)


def _may_have_overflowed(frame: pd.DataFrame, values: np.ndarray) -> bool:
    """Whether text in ``frame`` may have become ±inf in its cast ``values``: the cheaper look first."""
    if values.size <= SMALL_ARRAY:
        return bool(np.isinf(values).any()) and _textual(frame)
    return _textual(frame) and bool(np.isinf(values).any())


def _float_caster(dtype: type, onnx_type: str) -> Caster:
    largest = float(np.finfo(dtype).max)

    def cast(frame: pd.DataFrame, input_name: str, show_values: bool) -> np.ndarray:
        try:
            with np.errstate(over="raise"):  # a finite value beyond the type's range must not become inf
                values = frame.to_numpy(dtype=dtype, na_value=np.nan)
            # text such as "1e400" becomes inf without an error: look closer only then
            if not _may_have_overflowed(frame, values):
                return values
        except (ValueError, TypeError, FloatingPointError, OverflowError):
            pass
        numbers, overflow = _numbers(frame, input_name, onnx_type, show_values)
        _refuse_marked_cells(
            frame, overflow | (np.isfinite(numbers) & (np.abs(numbers) > largest)), show_values,
            f", beyond the range of {onnx_type} (±{largest:.4g}) that model input {quoted(input_name)} expects.",
        )
        return numbers.astype(dtype)

    return cast


def _int_caster(dtype: type, onnx_type: str) -> Caster:
    info = np.iinfo(dtype)

    def cast(frame: pd.DataFrame, input_name: str, show_values: bool) -> np.ndarray:
        if all(pd.api.types.is_integer_dtype(t) and not pd.api.types.is_extension_array_dtype(t) for t in frame.dtypes):
            values = frame.to_numpy()
            if values.size == 0 or (values.min() >= info.min and values.max() <= info.max):
                return values.astype(dtype, copy=False)
        values, _ = _numbers(frame, input_name, onnx_type, show_values)
        _refuse_marked_cells(
            frame, ~np.isfinite(values) | (values != np.trunc(values)) | (values < info.min) | (values > info.max),
            show_values,
            f"; model input {quoted(input_name)} expects {onnx_type}: whole numbers from {info.min} to {info.max}, "
            "no missing values.",
        )
        return values.astype(dtype)

    return cast


def _bool_caster(frame: pd.DataFrame, input_name: str, show_values: bool) -> np.ndarray:
    if all(pd.api.types.is_bool_dtype(t) for t in frame.dtypes):
        return frame.to_numpy(dtype=np.bool_)
    values, _ = _numbers(frame, input_name, "tensor(bool)", show_values)
    _refuse_marked_cells(
        frame, (values != 0) & (values != 1), show_values,
        f"; model input {quoted(input_name)} expects tensor(bool): True/False or 1/0, no missing values.",
    )
    return values.astype(np.bool_)


def _text(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number.is_integer() and abs(number) < EXACT_FLOAT_INTEGERS:
            return str(int(number))
    return str(value)


def _texts(column: pd.Series) -> np.ndarray:
    """One column as Python strings. Per column, because a frame-wide ``to_numpy`` turns an integer
    category column with a missing value (or any integers beside a float column) into floats."""
    values = column.to_numpy(dtype=object)
    missing = pd.isna(values)
    return np.array(["" if gone else _text(value) for value, gone in zip(values, missing, strict=True)], dtype=object)


def _string_caster(frame: pd.DataFrame, input_name: str, show_values: bool) -> np.ndarray:
    columns = [_texts(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return np.column_stack(columns) if columns else np.empty((len(frame), 0), dtype=object)


@dataclass(frozen=True)
class Cast:
    """The cast to one element type, and its rule in words (for ``inspect``)."""

    convert: Caster
    rule: str

    def __call__(self, frame: pd.DataFrame, input_name: str, show_values: bool = False) -> np.ndarray:
        return self.convert(frame, input_name, show_values)


def caster_for(onnx_type: str, input_name: str) -> Cast:
    """The cast to the element type an input declares, decided once at load."""
    if onnx_type in FLOAT_TYPES:
        dtype = FLOAT_TYPES[onnx_type]
        return Cast(_float_caster(dtype, onnx_type), f"to {np.dtype(dtype).name}; missing values stay NaN")
    if onnx_type in INT_TYPES:
        info = np.iinfo(INT_TYPES[onnx_type])
        return Cast(
            _int_caster(INT_TYPES[onnx_type], onnx_type),
            f"to {info.dtype.name}; whole numbers from {info.min} to {info.max}, no missing values",
        )
    if onnx_type == "tensor(bool)":
        return Cast(_bool_caster, "to bool; True/False or 1/0, no missing values")
    if onnx_type == "tensor(string)":
        return Cast(_string_caster, "to text; missing values become '', whole numbers lose the '.0'")
    raise ModelError(
        f"Model input {quoted(input_name)} has type {onnx_type}, which cannot be fed from a table "
        "(supported: float, double, float16, int8..int64, uint8..uint64, bool, string)."
    )


@dataclass(frozen=True)
class ModelInput:
    """One declared graph input and how a table feeds it."""

    name: str
    onnx_type: str
    shape: tuple[Dim, ...]
    cast: Cast = field(repr=False, compare=False)

    @classmethod
    def declared(cls, name: str, onnx_type: str, shape: Sequence[Dim]) -> "ModelInput":
        shape = tuple(shape)
        if len(shape) > 2 and not all(isinstance(d, int) for d in shape[1:]):
            raise ModelError(
                f"Model input {quoted(name)} has shape {list(shape)}: a rank-{len(shape)} input can be fed from "
                "a table only when every dimension after the first is fixed."
            )
        return cls(name, onnx_type, shape, caster_for(onnx_type, name))

    @property
    def width(self) -> int | None:
        """Columns per row when fixed by the declared shape, else None."""
        tail = [d for d in self.shape[1:] if isinstance(d, int)]
        return math.prod(tail) if len(tail) == len(self.shape) - 1 else None

    def column_names(self) -> tuple[str, ...]:
        """The columns this input reads, in order, in a model with several inputs: the column named
        like the input when its width is 1, else ``<name>_0`` .. ``<name>_<width - 1>``."""
        width = self.width
        if width is None:
            name = self.name
            raise ModelError(
                f"Model input {quoted(name)} has shape {list(self.shape)}, whose width is not fixed: in a model "
                "with several inputs each input reads its columns by name, so its width must be fixed "
                f"([None, 1] reads column {quoted(name)}; [None, 3] reads {listed(f'{name}_{i}' for i in range(3))}). "
                "Export the model with a fixed width for this input."
            )
        if width == 1:
            return (self.name,)
        return tuple(f"{self.name}_{i}" for i in range(width))

    @property
    def batch(self) -> int | None:
        """The fixed batch size when the first dimension is a number (e.g. torch's default ``[1, F]``)."""
        return self.shape[0] if self.shape and isinstance(self.shape[0], int) and self.shape[0] > 0 else None

    def array(self, frame: pd.DataFrame, show_values: bool = False) -> np.ndarray:
        """The cast array for this input, shaped as declared; cell values in messages only with ``show_values``."""
        width = self.width
        if width is not None and frame.shape[1] != width:
            raise InputError(
                f"Model input {quoted(self.name)} expects {width} column(s) per row, received {frame.shape[1]}: "
                f"{listed(frame.columns)}."
            )
        values = self.cast(frame, self.name, show_values)
        if len(self.shape) == 1:
            return values.reshape(len(frame))
        if len(self.shape) > 2:
            return values.reshape((len(frame), *(d for d in self.shape[1:] if isinstance(d, int))))  # all fixed
        return values


def _reads(columns: tuple[str, ...]) -> str:
    """The columns one input reads, exactly but briefly: ``'num_0', 'num_1'`` or ``'px_0' … 'px_783' (784 columns)``."""
    if len(columns) <= LISTED:
        return listed(columns)
    return f"{quoted(columns[0])} … {quoted(columns[-1])} ({len(columns)} columns)"


class InputFeed:
    """Maps a request's DataFrame to ``{input name: array}`` for ``session.run``.

    ``columns`` holds, for a model with several inputs, the column names each input reads (decided
    here, at load); it is empty for a model with one input, which reads every column in order.
    ``show_values`` (``DR_ONNX_LOG_VALUES``): a refused cell's content appears in the message, which
    DRUM also logs; off, the message says its row, column, kind and length only.
    """

    def __init__(self, inputs: Sequence[ModelInput], show_values: bool = False) -> None:
        if not inputs:
            raise ModelError("The model declares no inputs.")
        self.inputs = list(inputs)
        self.show_values = show_values
        self.by_name = len(self.inputs) > 1
        batches = {i.batch for i in self.inputs if i.batch}
        self.batch_size: int | None = min(batches) if batches else None
        self.columns: dict[str, tuple[str, ...]] = (
            {i.name: i.column_names() for i in self.inputs} if self.by_name else {}
        )
        self._wanted = [
            (name, tuple((column, column.casefold()) for column in columns)) for name, columns in self.columns.items()
        ]

    def __call__(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if not self.by_name:
            only = self.inputs[0]
            return {only.name: only.array(frame, self.show_values)}
        positions = self._positions(frame)
        return {i.name: i.array(frame.iloc[:, positions[i.name]], self.show_values) for i in self.inputs}

    def _positions(self, frame: pd.DataFrame) -> dict[str, list[int]]:
        """Input name -> positions of the columns that feed it, in the order it reads them."""
        names = [str(c) for c in frame.columns]
        exact: dict[str, list[int]] = {}
        loose: dict[str, list[int]] = {}
        for position, name in enumerate(names):
            exact.setdefault(name, []).append(position)
            loose.setdefault(name.casefold(), []).append(position)
        found: dict[str, list[int]] = {}
        missing: list[str] = []
        for input_name, wanted in self._wanted:
            positions: list[int] = []
            found[input_name] = positions
            for column, folded in wanted:
                matches = exact.get(column) or loose.get(folded) or []
                if len(matches) == 1:
                    positions.append(matches[0])
                elif matches:
                    which = "" if column == input_name else f" reads column {quoted(column)}, which"
                    raise InputError(
                        f"Model input {quoted(input_name)}{which} matches several columns: "
                        f"{listed([names[p] for p in matches])}. Send each column once."
                    )
                else:
                    missing.append(column)
        if missing:
            reads = [f"{quoted(name)} <- {_reads(columns)}" for name, columns in self.columns.items()]
            more = f" … and {len(reads) - LISTED} more inputs" if len(reads) > LISTED else ""
            raise InputError(
                f"Missing column(s) for model input(s): {listed(missing)}. Received columns: {listed(names)}. "
                f"Each model input reads (by name, exact or ignoring case): {'; '.join(reads[:LISTED])}{more}."
            )
        return found
