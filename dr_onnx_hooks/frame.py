"""The DataFrame handed back to DRUM.

DRUM checks probabilities strictly: no value above 1.0 at all and rows summing to 1 within
``np.isclose``'s 1e-5. float32 arithmetic in a model misses that by a hair, so probabilities are
clipped into [0, 1] (only when a value is past them: a pass saved) and rows renormalised in
float64, so that they sum to 1 as exactly as float64 allows. Values further off than ``NOISE`` are
not float noise but not probabilities at all (logits, scores): that is an error naming the output.

The conversion decided at load (``outputs.OutputChoice.transform``: exp of log-probabilities,
softmax or sigmoid of logits) is applied first. NaN or infinite predictions are never served:
the caller's fault (422) when the row sent missing or infinite values, else the model's (500).
"""

from collections.abc import Callable

import numpy as np
import pandas as pd

from .errors import DrOnnxError, InputError, ModelError
from .labels import ClassColumns
from .outputs import not_probabilities

NOISE = 1e-3
PREDICTIONS = "Predictions"


def _softmax(values: np.ndarray) -> np.ndarray:
    exp = np.exp(values - values.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda values: values, "exp": np.exp, "softmax": _softmax, "sigmoid": _sigmoid,
}


def value_frame(values: np.ndarray, output: str, data: pd.DataFrame) -> pd.DataFrame:
    """Regression and anomaly: one ``Predictions`` column from ``[rows, values per row]``.

    ``data`` is the request, consulted only to explain predictions that are not finite.
    """
    if values.shape[1] != 1:
        raise ModelError(
            f"Output {output!r} has {values.shape[1]} values per row; regression and anomaly need exactly one. "
            "Pick another output with DR_ONNX_OUTPUT."
        )
    predictions = values[:, 0]
    if predictions.dtype.kind in "fc" and not np.isfinite(predictions).all():
        raise _non_finite_error(
            values, output, data, "prediction",
            lambda row: ModelError(
                f"Output {output!r} is {predictions[row]} at row {row + 1}: regression and anomaly need a finite "
                "number per row, and the row sent none the model cannot use."
            ),
        )
    return pd.DataFrame({PREDICTIONS: predictions})


def _non_finite_error(
    values: np.ndarray, output: str, data: pd.DataFrame, what: str, model_fault: Callable[[int], DrOnnxError]
) -> DrOnnxError:
    """NaN or infinite outputs are the caller's to fix (422) when the row sent missing or infinite
    values the model cannot handle (it has no imputer); otherwise the model itself is at fault."""
    row = int(np.argmax(~np.isfinite(values).all(axis=1)))
    sent = data.iloc[row]
    unusable = [str(c) for c, v in sent.items() if pd.isna(v) or (isinstance(v, float) and np.isinf(v))]
    if unusable:
        shown = "NaN" if np.isnan(values[row]).any() else "infinite"
        return InputError(
            f"Row {row + 1} has missing or infinite values in {', '.join(unusable)}, and the model returns no "
            f"{what} for it (output {output!r} is {shown}): fill them in, or export the model with an imputer."
        )
    return model_fault(row)


def probability_frame(
    values: np.ndarray, columns: ClassColumns, output: str, sum_to_one: bool, data: pd.DataFrame,
    transform: str = "none",
) -> pd.DataFrame:
    """Binary, multiclass, multilabel: one column per label, named as DataRobot sent them.

    ``data`` is the request, consulted only to explain NaN probabilities.
    """
    # the checks look at the output as it came (float32 mostly); the one float64 copy is the result
    probabilities = values if transform == "none" else TRANSFORMS[transform](values.astype(np.float64))
    clip = False
    if probabilities.size:
        low, high = probabilities.min(), probabilities.max()
        if np.isnan(low) or np.isnan(high):
            raise _non_finite_error(
                probabilities, output, data, "probabilities", lambda row: not_probabilities(output, "it contains NaN")
            )
        if low < -NOISE or high > 1 + NOISE:
            raise not_probabilities(output, f"values range from {low:.6g} to {high:.6g}, outside [0, 1]")
        clip = low < 0.0 or high > 1.0  # float noise past the bounds DRUM allows no tolerance for
    if columns.from_single:
        positive = probabilities[:, 0].astype(np.float64)
        probabilities = np.column_stack([1.0 - positive, positive])
    else:
        # column-major: the row division runs down contiguous columns (much faster on few columns),
        # and it is the layout pandas keeps a 2-D block in, so the frame takes the array as it is
        probabilities = np.asarray(probabilities, dtype=np.float64, order="F")
    if clip:
        np.clip(probabilities, 0.0, 1.0, out=probabilities)
    if sum_to_one and not columns.from_single and probabilities.size:
        sums = probabilities @ np.ones((probabilities.shape[1], 1))  # much faster than .sum(axis=1) on few columns
        worst = np.abs(sums - 1.0).max()
        if worst > NOISE:
            raise not_probabilities(output, f"rows sum to as far as {worst:.6g} from 1")
        probabilities /= sums
    return pd.DataFrame(probabilities, columns=columns.index, copy=False)
