import onnx
import pytest
from onnx import TensorProto, helper

from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.graph import LOG_PROBABILITY, PROBABILITY, SCORES, UNKNOWN, Graph
from dr_onnx_hooks.outputs import OutputSpec, choose_outputs, class_output, value_output
from models import classifier, logits_graph, sklearn_onnx, softmax_graph

LABEL = OutputSpec("label", "tensor(int64)", (None,))
PROBS = OutputSpec("Probabilities", "tensor(float)", (None, 2))
SCORES_OUT = OutputSpec("scores", "tensor(float)", (None, 1))


def declared_only(*outputs: OutputSpec) -> Graph:
    """A graph that only declares ``outputs`` (no node makes them: their scale is unknown)."""
    elem = {"tensor(int64)": TensorProto.INT64, "tensor(float)": TensorProto.FLOAT}
    made = [helper.make_tensor_value_info(o.name, elem[o.onnx_type], None) for o in outputs]
    return Graph(helper.make_model(helper.make_graph([], "g", [], made)))


def test_class_output_prefers_a_name_containing_prob_in_any_case():
    outputs = [LABEL, SCORES_OUT, PROBS]
    choice = class_output(declared_only(*outputs), outputs, None, None)
    assert choice.name == "Probabilities" and "prob" in choice.reason and choice.scale.kind == UNKNOWN


def test_class_output_never_reads_a_label_tensor_as_probabilities():
    outputs = [LABEL, SCORES_OUT]
    choice = class_output(declared_only(*outputs), outputs, None, None)
    assert choice.name == "scores" and "predicted label" in choice.reason


def test_class_output_fails_when_no_output_can_hold_probabilities():
    with pytest.raises(DrOnnxError, match=r"No output can hold class probabilities.*label \(tensor\(int64\)\)"):
        class_output(declared_only(LABEL), [LABEL], None, None)


def test_zipmap_output_is_read_from_the_float_tensor_feeding_it_with_its_labels():
    model, train = classifier(("no", "yes"))
    graph = Graph(onnx.load_from_string(sklearn_onnx(model, train)))
    outputs = [OutputSpec(name, kind, ()) for name, kind in graph.outputs.items()]
    choice = class_output(graph, outputs, None, None)
    assert (choice.name, choice.fetch, choice.labels.labels) == ("output_probability", "probabilities", ("no", "yes"))
    assert choice.stands_for == ("output_probability",) and choice.labels.source == "ZipMap keys"
    assert choice.scale.kind == PROBABILITY and "post_transform LOGISTIC" in choice.scale.source


def test_logits_are_refused_at_load_unless_a_setting_names_the_function():
    graph = Graph(onnx.load_from_string(logits_graph()))
    outputs = [OutputSpec("scores", "tensor(float)", (None, 2))]
    (choice,) = [choose_outputs(graph, outputs, None, None, "m.onnx")["class"]]
    assert isinstance(choice, DrOnnxError) and "DR_ONNX_LOGITS=softmax" in str(choice) and "MatMul" in str(choice)
    assert class_output(graph, outputs, None, "softmax").transform == "softmax"


def test_logits_setting_on_probabilities_is_refused():
    graph = Graph(onnx.load_from_string(softmax_graph()))
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_LOGITS=softmax asks to apply softmax to output 'out', "
                                          r"but it holds probability"):
        class_output(graph, [OutputSpec("out", "tensor(float)", (None, 2))], None, "softmax")


def test_log_softmax_is_exponentiated():
    nodes = [helper.make_node("MatMul", ["X", "W"], ["z"]), helper.make_node("LogSoftmax", ["z"], ["logp"], axis=1)]
    model = helper.make_model(helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("logp", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor("W", TensorProto.FLOAT, [2, 2], [1, 0, 0, 1])],
    ))
    choice = class_output(Graph(model), [OutputSpec("logp", "tensor(float)", (None, 2))], None, None)
    assert (choice.scale.kind, choice.transform) == (LOG_PROBABILITY, "exp")


def test_value_output_is_the_first_output_unless_overridden():
    assert value_output([LABEL, SCORES_OUT], None).name == "label"
    assert value_output([LABEL, SCORES_OUT], SCORES_OUT).name == "scores"


def test_override_that_names_no_output_lists_the_outputs():
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_OUTPUT='score' names no output of m.onnx; "
                                          r"its outputs are: label, scores"):
        choose_outputs(declared_only(LABEL, SCORES_OUT), [LABEL, SCORES_OUT], "score", None, "m.onnx")


def test_value_output_must_be_numeric():
    with pytest.raises(DrOnnxError, match=r"'label' is tensor\(string\), not a numeric tensor"):
        value_output([OutputSpec("label", "tensor(string)", (None,))], None)


def test_raw_scores_scale_names_the_node():
    graph = Graph(onnx.load_from_string(logits_graph()))
    assert graph.scale("scores").kind == SCORES
