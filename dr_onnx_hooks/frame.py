"""The DataFrame handed back to DRUM.

DRUM checks probabilities strictly: no value above 1.0 at all and rows summing to 1 within
``np.isclose``'s 1e-5. float32 arithmetic in a model misses that by a hair, so probabilities are
clipped into [0, 1] and rows renormalised in float64. Values further off than ``NOISE`` are not
float noise but not probabilities at all (logits, scores): that is an error naming the output.
"""

import numpy as np
import pandas as pd

from .errors import DrOnnxError, InputError, ModelError
from .labels import ClassColumns

NOISE = 1e-3
PREDICTIONS = "Predictions"


def value_frame(values: np.ndarray, output: str) -> pd.DataFrame:
    """Regression and anomaly: one ``Predictions`` column from ``[rows, values per row]``."""
    if values.shape[1] != 1:
        raise ModelError(
            f"Output {output!r} has {values.shape[1]} values per row; regression and anomaly need exactly one. "
            "Pick another output with DR_ONNX_OUTPUT."
        )
    return pd.DataFrame({PREDICTIONS: values[:, 0]})


def _not_probabilities(output: str, detail: str) -> DrOnnxError:
    return ModelError(
        f"Output {output!r} does not hold probabilities: {detail}. If the model ends in logits or scores, "
        "export it with its softmax/sigmoid, or pick the probability output with DR_ONNX_OUTPUT."
    )


def _nan_error(values: np.ndarray, output: str, data: pd.DataFrame) -> DrOnnxError:
    """NaN probabilities are the caller's to fix (422) when the row sent missing or infinite values
    the model cannot handle (it has no imputer); otherwise the model itself is at fault (500)."""
    row = int(np.argmax(np.isnan(values).any(axis=1)))
    sent = data.iloc[row]
    unusable = [str(c) for c, v in sent.items() if pd.isna(v) or (isinstance(v, float) and np.isinf(v))]
    if unusable:
        return InputError(
            f"Row {row + 1} has missing or infinite values in {', '.join(unusable)}, and the model returns no "
            f"probabilities for it (output {output!r} is NaN): fill them in, or export the model with an imputer."
        )
    return _not_probabilities(output, "it contains NaN")


def probability_frame(
    values: np.ndarray, columns: ClassColumns, output: str, sum_to_one: bool, data: pd.DataFrame
) -> pd.DataFrame:
    """Binary, multiclass, multilabel: one column per label, named as DataRobot sent them.

    ``data`` is the request, consulted only to explain NaN probabilities.
    """
    probabilities = values.astype(np.float64)
    if probabilities.size:
        low, high = probabilities.min(), probabilities.max()
        if np.isnan(low) or np.isnan(high):
            raise _nan_error(probabilities, output, data)
        if low < -NOISE or high > 1 + NOISE:
            raise _not_probabilities(output, f"values range from {low:.6g} to {high:.6g}, outside [0, 1]")
    np.clip(probabilities, 0.0, 1.0, out=probabilities)
    if columns.from_single:
        probabilities = np.column_stack([1.0 - probabilities[:, 0], probabilities[:, 0]])
    elif sum_to_one and probabilities.size:
        sums = probabilities @ np.ones((probabilities.shape[1], 1))  # much faster than .sum(axis=1) on few columns
        worst = np.abs(sums - 1.0).max()
        if worst > NOISE:
            raise _not_probabilities(output, f"rows sum to as far as {worst:.6g} from 1")
        probabilities /= sums
    return pd.DataFrame(probabilities, columns=columns.index, copy=False)
