import pytest

from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.graph import ZipMapSource
from dr_onnx_hooks.outputs import OutputSpec, choose_outputs, class_output, value_output

LABEL = OutputSpec("label", "tensor(int64)", (None,))
PROBS = OutputSpec("Probabilities", "tensor(float)", (None, 2))
ZIPMAP = OutputSpec("output_probability", "seq(map(string,tensor(float)))", ())
SCORES = OutputSpec("scores", "tensor(float)", (None, 1))


def test_class_output_prefers_a_name_containing_prob_in_any_case():
    choice = class_output([LABEL, SCORES, PROBS], {}, None, None)
    assert choice.name == "Probabilities" and "prob" in choice.reason


def test_class_output_never_reads_a_label_tensor_as_probabilities():
    choice = class_output([LABEL, SCORES], {}, None, None)
    assert choice.name == "scores" and "predicted label" in choice.reason


def test_class_output_fails_when_no_output_can_hold_probabilities():
    with pytest.raises(DrOnnxError, match=r"No output can hold class probabilities.*label \(tensor\(int64\)\)"):
        class_output([LABEL], {}, None, None)


def test_zipmap_output_is_read_from_the_float_tensor_feeding_it_with_its_labels():
    zipmaps = {"output_probability": ZipMapSource("probabilities", ("no", "yes"))}
    choice = class_output([OutputSpec("output_label", "tensor(string)", (None,)), ZIPMAP], zipmaps, None, None)
    assert (choice.name, choice.fetch, choice.labels) == ("output_probability", "probabilities", ("no", "yes"))


def test_value_output_is_the_first_output_unless_overridden():
    assert value_output([LABEL, SCORES], None).name == "label"
    assert value_output([LABEL, SCORES], SCORES).name == "scores"


def test_override_that_names_no_output_lists_the_outputs():
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_OUTPUT='score' names no output of m.onnx; its outputs are: label, scores"):
        choose_outputs([LABEL, SCORES], {}, None, "score", "m.onnx")


def test_value_output_must_be_numeric():
    with pytest.raises(DrOnnxError, match=r"'label' is tensor\(string\), not a numeric tensor"):
        value_output([OutputSpec("label", "tensor(string)", (None,))], None)
