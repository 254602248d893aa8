import numpy as np
import pandas as pd
import pytest
from datarobot_drum.drum.data_marshalling import marshal_predictions
from datarobot_drum.drum.enum import TargetType

from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.frame import probability_frame, value_frame
from dr_onnx_hooks.labels import ClassColumns

THREE = ClassColumns(("a", "b", "c"), False)


def sent(n_rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n_rows, dtype=float)})


def test_float_noise_is_clipped_and_rows_renormalised_so_drum_accepts_them():
    noisy = np.array([[1 + 1e-7, -1e-8, 0.0], [0.3, 0.3, 0.4 - 2e-5]], dtype=np.float32)
    frame = probability_frame(noisy, THREE, "p", sum_to_one=True, data=sent(2))
    assert frame.to_numpy().max() <= 1.0 and frame.to_numpy().min() >= 0.0
    np.testing.assert_allclose(frame.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # DRUM's own validation, which rejects 1.0 + 1e-12 and sums off by more than 1e-5.
    marshal_predictions(["a", "b", "c"], frame.to_numpy(), TargetType.MULTICLASS, model_labels=list(frame.columns))


def test_rows_off_by_float32_rounding_alone_are_renormalised_too():
    rounded = np.array([[0.0, 0.9000000954, 0.1000000015]], dtype=np.float32)  # sums to 1 + 1e-7
    frame = probability_frame(rounded, THREE, "p", sum_to_one=True, data=sent(1))
    np.testing.assert_allclose(frame.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_single_value_expands_to_negative_and_positive():
    frame = probability_frame(
        np.array([[0.25], [1.0]]), ClassColumns(("n", "p"), True), "p", sum_to_one=True, data=sent(2)
    )
    assert frame.columns.tolist() == ["n", "p"]
    np.testing.assert_allclose(frame.to_numpy(), [[0.75, 0.25], [0.0, 1.0]])


@pytest.mark.parametrize(
    "values, detail",
    [([[2.5, -1.5, 0.0]], "values range from -1.5 to 2.5, outside \\[0, 1\\]"),
     ([[0.5, 0.5, 0.5]], "rows sum to as far as 0.5 from 1"),
     ([[np.nan, 0.5, 0.5]], "it contains NaN")],
)
def test_values_that_are_not_probabilities_are_an_error_naming_the_output(values, detail):
    with pytest.raises(DrOnnxError, match=rf"Output 'scores' does not hold probabilities: {detail}") as caught:
        probability_frame(np.array(values), THREE, "scores", sum_to_one=True, data=sent(1))
    assert caught.value.status_code == 500


@pytest.mark.parametrize("missing", [np.nan, np.inf])
def test_nan_probabilities_for_a_row_sent_with_missing_values_are_the_callers_to_fix(missing):
    data = pd.DataFrame({"age": [1.0, missing, 3.0], "city": ["a", None, "c"], "n": [1, 2, 3]})
    values = np.array([[0.5, 0.5, 0.0], [np.nan, np.nan, np.nan], [0.2, 0.3, 0.5]])
    with pytest.raises(DrOnnxError, match=r"Row 2 has missing or infinite values in age, city, and the model "
                                          r"returns no probabilities for it \(output 'p' is NaN\)") as caught:
        probability_frame(values, THREE, "p", sum_to_one=True, data=data)
    assert caught.value.status_code == 422


def test_multilabel_rows_need_not_sum_to_one():
    frame = probability_frame(np.array([[0.9, 0.8, 0.1]]), THREE, "p", sum_to_one=False, data=sent(1))
    np.testing.assert_allclose(frame.to_numpy(), [[0.9, 0.8, 0.1]])



def test_regression_needs_one_value_per_row():
    assert value_frame(np.array([[1.5], [2.0]]), "y", sent(2)).columns.tolist() == ["Predictions"]
    with pytest.raises(DrOnnxError, match=r"Output 'y' has 2 values per row; regression and anomaly need exactly one"):
        value_frame(np.zeros((2, 2)), "y", sent(2))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_regression_never_serves_nan_or_inf(bad):
    message = rf"Output 'y' is {bad} at row 2: regression and anomaly need a finite number"
    with pytest.raises(DrOnnxError, match=message) as caught:
        value_frame(np.array([[1.5], [bad]]), "y", sent(2))
    assert caught.value.status_code == 500
    missing = pd.DataFrame({"a": [1.0, np.nan]})
    message = r"Row 2 has missing or infinite values in a, and the model returns no prediction"
    with pytest.raises(DrOnnxError, match=message) as caught:
        value_frame(np.array([[1.5], [bad]]), "y", missing)
    assert caught.value.status_code == 422
