from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto

from dr_onnx_hooks.graph import LABELS, Graph, declared_outputs
from dr_onnx_hooks.served import served_model
from models import (
    classifier,
    features,
    identity_graph,
    pipeline,
    pipeline_onnx,
    regression_graph,
    regressor,
    sigmoid_graph,
    sklearn_onnx,
    softmax_graph,
)


def _models():
    logreg, train = classifier(("no", "yes"))
    forest, _ = classifier((3, 1, 2), kind="rf")
    reg, train_r = regressor()
    multi, frame = pipeline("multiclass")
    return {
        "zipmap": sklearn_onnx(logreg, train), "no zipmap": sklearn_onnx(logreg, train, zipmap=False),
        "int labels": sklearn_onnx(forest, train), "regressor": sklearn_onnx(reg, train_r),
        "pipeline": pipeline_onnx(multi, frame), "sigmoid": sigmoid_graph(True), "softmax": softmax_graph(True),
        "fixed batch": regression_graph(batch=1), "string identity": identity_graph(TensorProto.STRING),
    }


MODELS = _models()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_declared_outputs_read_from_the_graph_are_what_onnxruntime_reports(name):
    session = ort.InferenceSession(MODELS[name], providers=["CPUExecutionProvider"])
    expected = [(o.name, o.type, tuple(o.shape)) for o in session.get_outputs()]
    assert declared_outputs(onnx.load_from_string(MODELS[name])) == expected


def test_zipmap_bypass_serves_the_float_tensor_and_drops_the_zipmap():
    graph = onnx.load_from_string(MODELS["zipmap"])
    (source,) = Graph(graph).zipmap_sources().values()
    assert source.labels.labels == ("no", "yes") == Graph(graph).labels(source.tensor).labels
    bypassed = onnx.load_from_string(served_model(Path("model.onnx"), graph, {"output_probability": source.tensor}))
    assert "ZipMap" not in {n.op_type for n in bypassed.graph.node}
    assert [o.name for o in bypassed.graph.output] == ["output_label", source.tensor]
    data = features(20).to_numpy(np.float32)
    dicts = ort.InferenceSession(MODELS["zipmap"]).run(["output_probability"], {"X": data})[0]
    tensor = ort.InferenceSession(bypassed.SerializeToString()).run([source.tensor], {"X": data})[0]
    np.testing.assert_array_equal(tensor, [[row["no"], row["yes"]] for row in dicts])


def test_integer_class_labels_are_read_as_text():
    graph = Graph(onnx.load_from_string(MODELS["int labels"]))
    found = graph.labels("output_probability") or graph.labels(graph.zipmap_sources()["output_probability"].tensor)
    assert found.labels == ("1", "2", "3") and found.meaning == LABELS
