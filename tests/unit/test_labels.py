import logging

import pytest

from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.labels import class_columns, request_labels


def test_binary_single_value_is_the_positive_probability():
    columns = class_columns("binary", ("neg", "pos"), None, 1, "p")
    assert columns.names == ("neg", "pos") and columns.from_single


def test_binary_two_values_are_negative_then_positive_without_graph_labels():
    columns = class_columns("binary", ("neg", "pos"), None, 2, "p")
    assert columns.names == ("neg", "pos") and not columns.from_single


def test_graph_labels_assign_columns_by_name():
    # The graph's first column is "yes"; DataRobot's negative label is "yes" too.
    assert class_columns("binary", ("yes", "no"), ("no", "yes"), 2, "p").names == ("no", "yes")
    assert class_columns("multiclass", ("dog", "cat", "ant"), ("ant", "cat", "dog"), 3, "p").names == ("ant", "cat", "dog")


def test_graph_labels_compare_as_numbers_then_case_insensitively():
    assert class_columns("binary", ("1.0", "0"), ("0", "1"), 2, "p").names == ("0", "1.0")
    assert class_columns("multiclass", ("Dog", "CAT", "ant"), ("ant", "cat", "dog"), 3, "p").names == ("ant", "CAT", "Dog")


def test_labels_that_do_not_match_the_graph_fall_back_to_position_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks"):
        columns = class_columns("binary", ("n", "y"), ("no", "yes"), 2, "probabilities")
    assert columns.names == ("n", "y") and "read by position" in caplog.text and "probabilities" in caplog.text


def test_width_that_fits_no_rule_is_an_error_naming_the_output():
    with pytest.raises(DrOnnxError, match=r"Output 'p' has 3 values per row, but binary .* needs 1 \(P\(positive\)\) or 2"):
        class_columns("binary", ("n", "y"), None, 3, "p")
    with pytest.raises(DrOnnxError, match=r"Output 'p' has 2 values per row, but multiclass .* needs 3"):
        class_columns("multiclass", ("a", "b", "c"), None, 2, "p")


def test_request_labels_come_from_drums_kwargs():
    assert request_labels("binary", {"positive_class_label": 1, "negative_class_label": 0}) == ("0", "1")
    assert request_labels("multiclass", {"class_labels": ["a", "b", "c"]}) == ("a", "b", "c")
    with pytest.raises(DrOnnxError, match="POSITIVE_CLASS_LABEL"):
        request_labels("binary", {"positive_class_label": "y"})
    with pytest.raises(DrOnnxError, match="CLASS_LABELS_FILE"):
        request_labels("multiclass", {})
