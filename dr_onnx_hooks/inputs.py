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
* float, double, float16: NaN and ±inf pass through to the model; text that is not a number, or a
  finite number beyond the type's range (1e300 for float), is an error.
* int8..int64, uint8..uint64: every value must be a whole number within the type's range;
  NaN or a fraction is an error naming the column and row.
* bool: 0/1 or True/False.
* string: values become text, column by column; a missing value becomes ``""`` and a whole
  number is written without a fraction (``3``, not ``3.0``), so a code column reads the same
  whether or not a blank cell made ``pd.read_csv`` parse it as float.
"""

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from .errors import InputError, ModelError

Dim = Union[int, str, None]
Caster = Callable[[pd.DataFrame, str], np.ndarray]

FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}
INT_TYPES = {
    f"tensor({name})": getattr(np, name)
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
}


LISTED = 20  # names listed in a message before "… and N more"


def _row(position: int) -> str:
    return f"row {position + 1}"


def _listed(names: Sequence[object], what: str = "", sep: str = ", ") -> str:
    """``names`` joined by ``sep``, at most ``LISTED`` of them, then "… and N more"; "(none)" if empty."""
    texts = [str(n) for n in names]
    if not texts:
        return "(none)"
    shown = sep.join(texts[:LISTED])
    return shown if len(texts) <= LISTED else f"{shown} … and {len(texts) - LISTED} more{what}"


def _shown(value: object) -> str:
    """A cell as a user would write it: ``1.5``, ``'Paris'``, or "a missing value"."""
    if pd.isna(value):
        return "a missing value"
    return repr(value.item() if isinstance(value, np.generic) else value)


def _numbers(frame: pd.DataFrame, input_name: str, onnx_type: str) -> np.ndarray:
    """The frame as float64, naming the first cell that is not a number."""
    try:
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError):
        pass
    columns = []
    for i, column in enumerate(frame.columns):
        series = frame.iloc[:, i]
        numbers = pd.to_numeric(series, errors="coerce")
        bad = (numbers.isna() & series.notna()).to_numpy()
        if bad.any():
            position = int(np.argmax(bad))
            raise InputError(
                f"Column {column!r} holds {_shown(series.iloc[position])} at {_row(position)}, which is not a "
                f"number; model input {input_name!r} expects {onnx_type}."
            )
        columns.append(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def _refuse_marked_cells(frame: pd.DataFrame, bad: np.ndarray, why: str) -> None:
    """A 422 naming the first cell ``bad`` marks (in row order), followed by ``why``; nothing if none is."""
    if bad.any():
        position, column = np.argwhere(bad)[0]
        raise InputError(
            f"Column {frame.columns[column]!r} holds {_shown(frame.iat[position, column])} at {_row(position)}{why}"
        )


def _float_caster(dtype: type, onnx_type: str) -> Caster:
    largest = float(np.finfo(dtype).max)

    def cast(frame: pd.DataFrame, input_name: str) -> np.ndarray:
        try:
            with np.errstate(over="raise"):  # a finite value beyond the type's range must not become inf
                return frame.to_numpy(dtype=dtype, na_value=np.nan)
        except (ValueError, TypeError, FloatingPointError):
            numbers = _numbers(frame, input_name, onnx_type)
        _refuse_marked_cells(
            frame, np.isfinite(numbers) & (np.abs(numbers) > largest),
            f", beyond the range of {onnx_type} (±{largest:.4g}) that model input {input_name!r} expects.",
        )
        return numbers.astype(dtype)

    return cast


def _int_caster(dtype: type, onnx_type: str) -> Caster:
    info = np.iinfo(dtype)

    def cast(frame: pd.DataFrame, input_name: str) -> np.ndarray:
        if all(pd.api.types.is_integer_dtype(t) and not pd.api.types.is_extension_array_dtype(t) for t in frame.dtypes):
            values = frame.to_numpy()
            if values.size == 0 or (values.min() >= info.min and values.max() <= info.max):
                return values.astype(dtype, copy=False)
        values = _numbers(frame, input_name, onnx_type)
        _refuse_marked_cells(
            frame, ~np.isfinite(values) | (values != np.trunc(values)) | (values < info.min) | (values > info.max),
            f"; model input {input_name!r} expects {onnx_type}: whole numbers from {info.min} to {info.max}, "
            "no missing values.",
        )
        return values.astype(dtype)

    return cast


def _bool_caster(frame: pd.DataFrame, input_name: str) -> np.ndarray:
    if all(pd.api.types.is_bool_dtype(t) for t in frame.dtypes):
        return frame.to_numpy(dtype=np.bool_)
    values = _numbers(frame, input_name, "tensor(bool)")
    _refuse_marked_cells(
        frame, (values != 0) & (values != 1),
        f"; model input {input_name!r} expects tensor(bool): True/False or 1/0, no missing values.",
    )
    return values.astype(np.bool_)


def _text(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _texts(column: pd.Series) -> np.ndarray:
    """One column as Python strings. Per column, because a frame-wide ``to_numpy`` turns an integer
    category column with a missing value (or any integers beside a float column) into floats."""
    values = column.to_numpy(dtype=object)
    missing = pd.isna(values)
    return np.array(["" if gone else _text(value) for value, gone in zip(values, missing)], dtype=object)


def _string_caster(frame: pd.DataFrame, input_name: str) -> np.ndarray:
    columns = [_texts(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return np.column_stack(columns) if columns else np.empty((len(frame), 0), dtype=object)


@dataclass(frozen=True)
class Cast:
    """The cast to one element type, and its rule in words (for ``inspect``)."""

    convert: Caster
    rule: str

    def __call__(self, frame: pd.DataFrame, input_name: str) -> np.ndarray:
        return self.convert(frame, input_name)


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
        f"Model input {input_name!r} has type {onnx_type}, which cannot be fed from a table "
        "(supported: float, double, float16, int8..int64, uint8..uint64, bool, string)."
    )


@dataclass(frozen=True)
class ModelInput:
    """One declared graph input and how a table feeds it."""

    name: str
    onnx_type: str
    shape: Tuple[Dim, ...]
    cast: Cast = field(repr=False, compare=False)

    @classmethod
    def declared(cls, name: str, onnx_type: str, shape: Sequence[Dim]) -> "ModelInput":
        shape = tuple(shape)
        if len(shape) > 2 and not all(isinstance(d, int) for d in shape[1:]):
            raise ModelError(
                f"Model input {name!r} has shape {list(shape)}: a rank-{len(shape)} input can be fed from "
                "a table only when every dimension after the first is fixed."
            )
        return cls(name, onnx_type, shape, caster_for(onnx_type, name))

    @property
    def width(self) -> Optional[int]:
        """Columns per row when fixed by the declared shape, else None."""
        tail = [d for d in self.shape[1:] if isinstance(d, int)]
        return math.prod(tail) if len(tail) == len(self.shape) - 1 else None

    def column_names(self) -> Tuple[str, ...]:
        """The columns this input reads, in order, in a model with several inputs: the column named
        like the input when its width is 1, else ``<name>_0`` .. ``<name>_<width - 1>``."""
        width = self.width
        if width is None:
            raise ModelError(
                f"Model input {self.name!r} has shape {list(self.shape)}, whose width is not fixed: in a model "
                "with several inputs each input reads its columns by name, so its width must be fixed "
                f"([None, 1] reads column {self.name!r}; [None, 3] reads {self.name}_0, {self.name}_1, "
                f"{self.name}_2). Export the model with a fixed width for this input."
            )
        if width == 1:
            return (self.name,)
        return tuple(f"{self.name}_{i}" for i in range(width))

    @property
    def batch(self) -> Optional[int]:
        """The fixed batch size when the first dimension is a number (e.g. torch's default ``[1, F]``)."""
        return self.shape[0] if self.shape and isinstance(self.shape[0], int) and self.shape[0] > 0 else None

    def array(self, frame: pd.DataFrame) -> np.ndarray:
        """The cast array for this input, shaped as declared."""
        width = self.width
        if width is not None and frame.shape[1] != width:
            names = ", ".join(map(str, frame.columns))
            raise InputError(
                f"Model input {self.name!r} expects {width} column(s) per row, received {frame.shape[1]}: "
                f"{names or '(none)'}."
            )
        values = self.cast(frame, self.name)
        if len(self.shape) == 1:
            return values.reshape(len(frame))
        if len(self.shape) > 2:
            return values.reshape((len(frame), *(d for d in self.shape[1:] if isinstance(d, int))))  # all fixed
        return values


def _reads(columns: Tuple[str, ...]) -> str:
    """The columns one input reads, exactly but briefly: ``num_0, num_1, num_2`` or ``px_0 … px_783 (784 columns)``."""
    if len(columns) <= LISTED:
        return ", ".join(columns) or "(none)"
    return f"{columns[0]} … {columns[-1]} ({len(columns)} columns)"


class InputFeed:
    """Maps a request's DataFrame to ``{input name: array}`` for ``session.run``.

    ``columns`` holds, for a model with several inputs, the column names each input reads (decided
    here, at load); it is empty for a model with one input, which reads every column in order.
    """

    def __init__(self, inputs: Sequence[ModelInput]) -> None:
        if not inputs:
            raise ModelError("The model declares no inputs.")
        self.inputs = list(inputs)
        self.by_name = len(self.inputs) > 1
        batches = {i.batch for i in self.inputs if i.batch}
        self.batch_size: Optional[int] = min(batches) if batches else None
        self.columns: Dict[str, Tuple[str, ...]] = (
            {i.name: i.column_names() for i in self.inputs} if self.by_name else {}
        )
        self._wanted = [
            (name, tuple((column, column.casefold()) for column in columns)) for name, columns in self.columns.items()
        ]

    def __call__(self, frame: pd.DataFrame) -> Dict[str, np.ndarray]:
        if not self.by_name:
            only = self.inputs[0]
            return {only.name: only.array(frame)}
        positions = self._positions(frame)
        return {i.name: i.array(frame.iloc[:, positions[i.name]]) for i in self.inputs}

    def _positions(self, frame: pd.DataFrame) -> Dict[str, List[int]]:
        """Input name -> positions of the columns that feed it, in the order it reads them."""
        names = [str(c) for c in frame.columns]
        exact: Dict[str, List[int]] = {}
        loose: Dict[str, List[int]] = {}
        for position, name in enumerate(names):
            exact.setdefault(name, []).append(position)
            loose.setdefault(name.casefold(), []).append(position)
        found: Dict[str, List[int]] = {}
        missing: List[str] = []
        for input_name, wanted in self._wanted:
            positions: List[int] = []
            found[input_name] = positions
            for column, folded in wanted:
                matches = exact.get(column) or loose.get(folded) or []
                if len(matches) == 1:
                    positions.append(matches[0])
                elif matches:
                    which = "" if column == input_name else f" reads column {column!r}, which"
                    raise InputError(
                        f"Model input {input_name!r}{which} matches several columns: "
                        f"{_listed([names[p] for p in matches])}. Send each column once."
                    )
                else:
                    missing.append(column)
        if missing:
            reads = [f"{name!r} <- {_reads(columns)}" for name, columns in self.columns.items()]
            raise InputError(
                f"Missing column(s) for model input(s): {_listed(missing)}. Received columns: {_listed(names)}. "
                f"Each model input reads (by name, exact or ignoring case): {_listed(reads, ' inputs', '; ')}."
            )
        return found
