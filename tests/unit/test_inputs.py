import numpy as np
import pandas as pd
import pytest

from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.inputs import InputFeed, ModelInput


def feed_of(*inputs):
    return InputFeed([ModelInput.declared(*i) for i in inputs])


@pytest.mark.parametrize(
    "onnx_type, dtype",
    [("tensor(float)", np.float32), ("tensor(double)", np.float64), ("tensor(int64)", np.int64),
     ("tensor(int32)", np.int32), ("tensor(bool)", np.bool_)],
)
def test_all_columns_in_order_cast_to_the_declared_type(onnx_type, dtype):
    frame = pd.DataFrame({"b": [1, 0, 1], "a": [0, 1, 1]})
    array = feed_of(("X", onnx_type, [None, 2]))(frame)["X"]
    assert array.dtype == dtype
    np.testing.assert_array_equal(array, np.array([[1, 0], [0, 1], [1, 1]], dtype=dtype))


def test_double_input_keeps_float64_precision():
    frame = pd.DataFrame({"x": [0.1234567890123, 1e-12]})
    array = feed_of(("X", "tensor(double)", [None, 1]))(frame)["X"]
    assert array[0, 0] == 0.1234567890123 and array[1, 0] == 1e-12


def test_nan_passes_through_to_float_inputs():
    frame = pd.DataFrame({"a": [np.nan, 1.0], "b": [np.nan, np.nan]})
    array = feed_of(("X", "tensor(float)", [None, 2]))(frame)["X"]
    assert np.isnan(array[0]).all() and np.isnan(array[1, 1]) and array[1, 0] == 1.0


def test_numbers_sent_as_text_are_numbers():
    frame = pd.DataFrame({"a": ["1.5", "2"], "b": [3, 4]}, dtype=object)
    array = feed_of(("X", "tensor(float)", [None, 2]))(frame)["X"]
    np.testing.assert_array_equal(array, np.array([[1.5, 3], [2, 4]], dtype=np.float32))


def test_text_in_a_numeric_model_names_column_row_and_input():
    frame = pd.DataFrame({"age": [1.0, 2.0, 3.0], "city": ["1", "2", "Paris"]})
    message = (r"Column 'city' holds text of 5 characters at row 3, which is not a number; "
               r"model input 'X' expects tensor\(float\)")
    with pytest.raises(DrOnnxError, match=message) as caught:
        feed_of(("X", "tensor(float)", [None, 2]))(frame)
    assert caught.value.status_code == 422


def test_static_width_mismatch_says_expected_received_and_names_columns():
    frame = pd.DataFrame({"id": [1], "f0": [1.0], "f1": [2.0]})
    with pytest.raises(DrOnnxError, match=r"expects 2 column\(s\) per row, received 3: 'id', 'f0', 'f1'") as caught:
        feed_of(("X", "tensor(float)", [None, 2]))(frame)
    assert caught.value.status_code == 422


def test_symbolic_width_accepts_any_column_count():
    frame = pd.DataFrame(np.ones((2, 5)))
    assert feed_of(("X", "tensor(float)", ["batch", "features"]))(frame)["X"].shape == (2, 5)


@pytest.mark.parametrize("value, what", [(np.nan, "a missing value"), (1.5, "a number with a fraction"),
                                        (2.0**40, "a whole number of 13 digits")])
def test_int_inputs_refuse_missing_fractional_and_out_of_range_values(value, what):
    frame = pd.DataFrame({"n": [1.0, value]})
    with pytest.raises(DrOnnxError, match=rf"Column 'n' holds {what} at row 2; "
                                          rf"model input 'X' expects tensor\(int32\)"):
        feed_of(("X", "tensor(int32)", [None, 1]))(frame)


def test_int_inputs_take_whole_floats_losslessly():
    frame = pd.DataFrame({"n": [1.0, -3.0]})
    np.testing.assert_array_equal(feed_of(("X", "tensor(int64)", [None, 1]))(frame)["X"], [[1], [-3]])


def test_bool_inputs_refuse_other_numbers():
    with pytest.raises(DrOnnxError, match=r"Column 'flag' holds a whole number of 1 digit at row 1.*tensor\(bool\)"):
        feed_of(("X", "tensor(bool)", [None, 1]))(pd.DataFrame({"flag": [2, 1]}))


def test_string_inputs_take_text_numbers_and_missing_as_empty():
    frame = pd.DataFrame({"a": ["x", None], "b": [1, 2]})
    array = feed_of(("X", "tensor(string)", [None, 2]))(frame)["X"]
    assert array.tolist() == [["x", "1"], ["", "2"]]


def test_rank1_input_takes_one_column():
    array = feed_of(("X", "tensor(float)", [None]))(pd.DataFrame({"a": [1.0, 2.0]}))["X"]
    assert array.shape == (2,)


def test_higher_rank_input_is_reshaped_from_flat_columns():
    frame = pd.DataFrame(np.arange(12).reshape(2, 6))
    array = feed_of(("X", "tensor(float)", [None, 2, 3]))(frame)["X"]
    assert array.shape == (2, 2, 3) and array[1, 1, 2] == 11


def test_higher_rank_with_symbolic_dims_is_refused_at_load():
    with pytest.raises(DrOnnxError, match=r"rank-3 input"):
        ModelInput.declared("X", "tensor(float)", [None, "c", 3])


def test_unsupported_element_type_is_refused_at_load():
    with pytest.raises(DrOnnxError, match=r"'X' has type tensor\(complex64\)"):
        ModelInput.declared("X", "tensor(complex64)", [None, 2])


def test_several_inputs_read_columns_by_name_and_ignore_others():
    feed = feed_of(("age", "tensor(float)", [None, 1]), ("City", "tensor(string)", [None, 1]))
    frame = pd.DataFrame({"id": [7, 8], "city": ["a", "b"], "age": [30, 40], "target": [0, 1]})
    arrays = feed(frame)
    np.testing.assert_array_equal(arrays["age"], np.array([[30], [40]], dtype=np.float32))
    assert arrays["City"].tolist() == [["a"], ["b"]]


def test_several_inputs_name_every_missing_column():
    feed = feed_of(*[(name, "tensor(float)", [None, 1]) for name in ("a", "b", "c")])
    message = r"Missing column\(s\) for model input\(s\): 'b', 'c'\. Received columns: 'a', 'x'"
    with pytest.raises(DrOnnxError, match=message):
        feed(pd.DataFrame({"a": [1.0], "x": [2.0]}))


def test_exact_name_wins_over_case_insensitive_and_ambiguity_is_an_error():
    feed = feed_of(("a", "tensor(float)", [None, 1]), ("b", "tensor(float)", [None, 1]))
    assert feed(pd.DataFrame({"A": [9.0], "a": [1.0], "b": [2.0]}))["a"][0, 0] == 1.0
    with pytest.raises(DrOnnxError, match=r"'Ab' matches several columns: 'AB', 'ab'"):
        feed_of(("Ab", "tensor(float)", [None, 1]), ("c", "tensor(float)", [None, 1]))(
            pd.DataFrame({"AB": [1.0], "ab": [2.0], "c": [3.0]})
        )


def test_fixed_batch_dimension_is_reported():
    assert feed_of(("X", "tensor(float)", [1, 4])).batch_size == 1
    assert feed_of(("X", "tensor(float)", ["N", 4])).batch_size is None


def test_finite_numbers_beyond_float32_are_refused_but_inf_passes():
    feed = feed_of(("X", "tensor(float)", [None, 2]))
    with pytest.raises(DrOnnxError, match=r"Column 'b' holds a negative whole number of 301 digits at row 2, "
                       r"beyond the range of tensor\(float\)"):
        feed(pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, -1e300]}))
    with pytest.raises(DrOnnxError, match=r"Column 'a' holds text of 5 characters at row 1, beyond the range"):
        feed(pd.DataFrame({"a": ["1e300"], "b": [1]}, dtype=object))
    array = feed(pd.DataFrame({"a": [np.inf], "b": [-np.inf]}))["X"]
    assert np.isposinf(array[0, 0]) and np.isneginf(array[0, 1])
    assert feed_of(("X", "tensor(double)", [None, 1]))(pd.DataFrame({"a": [1e300]}))["X"][0, 0] == 1e300
