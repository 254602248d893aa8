import logging

import pytest

from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.graph import INDICES, LABELS, UNSURE, GraphLabels
from dr_onnx_hooks.labels import class_columns, request_labels


def kept(*labels: str, meaning: str = LABELS) -> GraphLabels:
    return GraphLabels(tuple(labels), "test", meaning)


def test_binary_single_value_is_the_positive_probability():
    columns = class_columns("binary", ("neg", "pos"), None, 1, "p")
    assert columns.names == ("neg", "pos") and columns.from_single


def test_binary_two_values_are_negative_then_positive_without_graph_labels():
    columns = class_columns("binary", ("neg", "pos"), None, 2, "p")
    assert columns.names == ("neg", "pos") and not columns.from_single


def test_graph_labels_assign_columns_by_name():
    # The graph's first column is "yes"; DataRobot's negative label is "yes" too.
    assert class_columns("binary", ("yes", "no"), kept("no", "yes"), 2, "p").names == ("no", "yes")
    columns = class_columns("multiclass", ("dog", "cat", "ant"), kept("ant", "cat", "dog"), 3, "p")
    assert columns.names == ("ant", "cat", "dog")


def test_graph_labels_compare_as_numbers_then_case_insensitively():
    assert class_columns("binary", ("1.0", "0"), kept("0", "1"), 2, "p").names == ("0", "1.0")
    columns = class_columns("multiclass", ("Dog", "CAT", "ant"), kept("ant", "cat", "dog"), 3, "p")
    assert columns.names == ("ant", "CAT", "Dog")


def test_labels_that_do_not_match_the_graph_fall_back_to_position_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks"):
        columns = class_columns("binary", ("n", "y"), kept("no", "yes"), 2, "probabilities")
    assert columns.names == ("n", "y") and "read by position" in caplog.text and "probabilities" in caplog.text


def test_width_that_fits_no_rule_is_an_error_naming_the_output():
    with pytest.raises(DrOnnxError, match=r"Output 'p' has 3 values per row, "
                                          r"but binary .* needs 1 \(P\(positive\)\) or 2"):
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


TEXT_ORDER = tuple(sorted(str(i) for i in range(11)))  # "0", "1", "10", "2", ...: how a LabelEncoder sorts text
INTS = tuple(str(i) for i in range(11))


def test_indices_are_read_by_position_with_a_warning_when_names_would_differ(caplog):
    with caplog.at_level(logging.WARNING, logger="dr_onnx_hooks"):
        columns = class_columns("multiclass", TEXT_ORDER, kept(*INTS, meaning=INDICES), 11, "probabilities")
    assert columns.names == TEXT_ORDER and "class indices" in caplog.text and "DR_ONNX_CLASS_ORDER=graph" in caplog.text


def test_integer_labels_from_skl2onnx_are_matched_by_name():
    assert class_columns("multiclass", TEXT_ORDER, kept(*INTS), 11, "p").names == INTS


def test_unsure_integers_are_refused_when_name_and_position_disagree():
    with pytest.raises(DrOnnxError, match=r"may be class indices"
                                          r".*DR_ONNX_CLASS_ORDER=graph.*DR_ONNX_CLASS_ORDER=position"):
        class_columns("multiclass", TEXT_ORDER, kept(*INTS, meaning=UNSURE), 11, "p")
    # the same graph with the labels sent in numeric order: both readings agree, nothing to decide
    assert class_columns("multiclass", INTS, kept(*INTS, meaning=UNSURE), 11, "p").names == INTS


@pytest.mark.parametrize("meaning", [LABELS, INDICES, UNSURE])
def test_class_order_setting_decides(meaning):
    graph = kept(*INTS, meaning=meaning)
    assert class_columns("multiclass", TEXT_ORDER, graph, 11, "p", order="graph").names == INTS
    assert class_columns("multiclass", TEXT_ORDER, graph, 11, "p", order="position").names == TEXT_ORDER
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_CLASS_ORDER=graph, but the class labels"):
        class_columns("multiclass", tuple("abcdefghijk"), graph, 11, "p", order="graph")
