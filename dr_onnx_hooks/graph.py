"""What the ONNX graph itself says about its class output, read once at load.

* **Where the class labels are kept.** Converters keep them in one of three places, tried in
  this order for the tensor the probabilities are read from:

  1. the keys of the ZipMap that turns it into one ``{label: probability}`` dict per row;
  2. a constant class tensor that a label output reads with ``ArrayFeatureExtractor`` or
     ``Gather`` at the ``ArgMax`` of this very tensor (skl2onnx's MLP and stacking exports, with
     ``zipmap=False``): the labels the model itself emits;
  3. the ``classlabels_strings`` / ``classlabels_int64s`` / ``classlabels_ints`` attribute of the
     ``ai.onnx.ml`` classifier node that produces the tensor (through ops that keep its columns:
     ``Identity``, ``Cast``, ``Normalizer``...), never of whichever classifier node comes first
     (a stacking model's inner nodes carry encoded ``[0, 1]``).

* **Labels or indices.** Integer labels that are exactly ``0 .. K-1`` may be class *indices*:
  XGBoost trains on ``0 .. K-1`` only, and onnxmltools' XGBoost converter writes those, whatever
  the user's labels were before encoding. skl2onnx writes the estimator's ``classes_``, which
  are the labels themselves. So ``0 .. K-1`` count as labels from skl2onnx, as indices from
  onnxmltools (``OnnxMLTools``), and as unsure from any other producer; ``labels.py`` decides
  what each means for the columns.

* **Probability or not.** Decided from the op that produces the tensor: ``Softmax`` and
  ``Sigmoid`` give probabilities, ``LogSoftmax`` (or ``Log`` of probabilities) log-probabilities,
  a classifier node its ``post_transform`` (``NONE`` on a linear or SVM classifier without
  Platt scaling: raw scores), ``Gemm`` / ``MatMul`` / ``Add`` raw scores (logits). Anything else
  is unknown here, and the warm-up run decides (``plan``).

* **One output per class** (skl2onnx ``zipmap="columns"``): outputs that are each one column
  ``Slice``d from the same tensor are read as that tensor.

A ZipMap output, or the tensor behind per-class outputs, is served by exposing the float tensor
as a graph output and dropping the ZipMap (``served``).
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import ModelError

ML_DOMAIN = "ai.onnx.ml"
LABEL_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
CLASSIFIERS = ("LinearClassifier", "SVMClassifier", "TreeEnsembleClassifier")

# What the labels a graph keeps mean for the probability columns (see the module docstring).
LABELS, INDICES, UNSURE = "labels", "indices", "unsure"
PRODUCER_MEANINGS = {"skl2onnx": LABELS, "OnnxMLTools": INDICES}

# How a tensor's values relate to probabilities.
PROBABILITY, LOG_PROBABILITY, SCORES, UNKNOWN = "probability", "log-probability", "raw scores", "unknown"

SAME_VALUES = ("Identity", "Cast")  # a tensor passed on as it is
SAME_COLUMNS = SAME_VALUES + ("Normalizer", "Reshape", "Flatten", "Squeeze", "Unsqueeze")  # its columns kept
PICK_COLUMNS = ("Slice", "ArrayFeatureExtractor", "Gather")  # some of its columns, values unchanged
PROBABILITY_OPS = ("Softmax", "Sigmoid")
LINEAR_OPS = ("Gemm", "MatMul")  # a linear layer: raw scores, unless an activation follows
ELEMENTWISE_OPS = ("Add", "Sub", "Mul", "Div")

Labels = tuple[str, ...]


@dataclass(frozen=True)
class GraphLabels:
    """Class labels the graph keeps for a tensor's columns, where they were found, what they mean."""

    labels: Labels
    source: str
    meaning: str  # LABELS, INDICES or UNSURE
    label_output: str | None = None  # the graph output that emits these labels, if any


@dataclass(frozen=True)
class Scale:
    """Whether a tensor holds probabilities, and what says so."""

    kind: str  # PROBABILITY, LOG_PROBABILITY, SCORES or UNKNOWN
    source: str


@dataclass(frozen=True)
class ZipMapSource:
    """The float tensor a ZipMap output is made from, and the ZipMap's labels."""

    tensor: str
    labels: GraphLabels


@dataclass(frozen=True)
class PerClassOutputs:
    """Graph outputs that are each one column of ``tensor`` (skl2onnx ``zipmap="columns"``), in column order."""

    tensor: str
    outputs: tuple[str, ...]


def type_name(value: onnx.TypeProto) -> str:
    """A value's type as onnxruntime spells it: ``tensor(float)``, ``seq(map(string,tensor(float)))``."""
    kind = value.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({_element(value.tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({type_name(value.sequence_type.elem_type)})"
    if kind == "map_type":
        return f"map({_element(value.map_type.key_type)},{type_name(value.map_type.value_type)})"
    return kind or "unknown"


def _element(elem_type: int) -> str:
    return helper.tensor_dtype_to_string(elem_type).removeprefix("TensorProto.").lower()


def declared_outputs(model: onnx.ModelProto) -> list[tuple[str, str, tuple[int | str | None, ...]]]:
    """Name, type and shape of each graph output, as ``InferenceSession.get_outputs`` would give them."""
    def dim(d: onnx.TensorShapeProto.Dimension) -> int | str | None:
        return d.dim_value if d.HasField("dim_value") else (d.dim_param or None)

    return [
        (o.name, type_name(o.type), tuple(dim(d) for d in o.type.tensor_type.shape.dim))
        for o in model.graph.output
    ]


def _text(values: Iterable[object]) -> Labels:
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)


def _attribute(node: onnx.NodeProto, name: str) -> object:
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return None


class Graph:
    """The graph indexed once: which node makes each tensor, the constants' values, the outputs."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.producer_name = model.producer_name
        self.nodes = list(model.graph.node)
        self.makers = {out: node for node in self.nodes for out in node.output if out}
        self.outputs = {o.name: type_name(o.type) for o in model.graph.output}
        self.constants: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t)
            for t in model.graph.initializer if t.data_location != onnx.TensorProto.EXTERNAL
        }
        for node in self.nodes:
            value = _attribute(node, "value") if node.op_type == "Constant" else None
            if isinstance(value, onnx.TensorProto) and value.data_location != onnx.TensorProto.EXTERNAL:
                self.constants[node.output[0]] = numpy_helper.to_array(value)

    def maker(self, tensor: str) -> onnx.NodeProto | None:
        return self.makers.get(tensor)

    def back(self, tensor: str, through: tuple[str, ...]) -> str:
        """Follow ``tensor`` back through ops of the kinds ``through`` (their first input) to where it is made."""
        seen = set()
        while (node := self.makers.get(tensor)) is not None and node.op_type in through and tensor not in seen:
            seen.add(tensor)
            tensor = node.input[0]
        return tensor

    def zipmap_sources(self) -> dict[str, ZipMapSource]:
        """Graph output name -> the ZipMap feeding it, for every output made by a ZipMap node with labels."""
        sources = {}
        for node in self.nodes:
            if node.op_type == "ZipMap" and node.domain == ML_DOMAIN and node.output[0] in self.outputs:
                found = self._node_labels(node, "ZipMap keys")
                if found:
                    sources[node.output[0]] = ZipMapSource(node.input[0], found)
        return sources

    def column_root(self, tensor: str) -> str:
        """Where ``tensor``'s columns come from: back through ops that keep them, including a scalar
        constant added or multiplied (onnxmltools' LightGBM export multiplies by 1)."""
        seen = set()
        while (node := self.makers.get(tensor)) is not None and tensor not in seen:
            seen.add(tensor)
            variable = [i for i in node.input if i not in self.constants]
            scalar = all(self.constants[i].size == 1 for i in node.input if i in self.constants)
            if node.op_type in SAME_COLUMNS:
                tensor = node.input[0]
            elif node.op_type in ELEMENTWISE_OPS and len(variable) == 1 and scalar:
                tensor = variable[0]
            else:
                break
        return tensor

    def labels(self, tensor: str) -> GraphLabels | None:
        """The class labels the graph keeps for ``tensor``'s columns (sources 2 and 3 of the docstring)."""
        root = self.column_root(tensor)
        for output, output_type in self.outputs.items():
            if output_type in ("tensor(string)", "tensor(int64)", "tensor(int32)"):
                found = self._emitted_labels(output, root)
                if found:
                    return found
        maker = self.maker(root)
        classifier = maker is not None and maker.domain == ML_DOMAIN and maker.op_type in CLASSIFIERS
        if maker is None or not classifier or maker.output[1:2] != [root]:
            return None
        found = self._node_labels(maker, f"{_attribute_name(maker)} of {maker.op_type}")
        emitted = [o for o in self.outputs if self.back(o, SAME_COLUMNS) == maker.output[0]]
        return replace(found, label_output=emitted[0] if emitted else None) if found else None

    def _emitted_labels(self, output: str, root: str) -> GraphLabels | None:
        """Labels a label output reads from a constant at the ArgMax of ``root``, else None."""
        picker = self.maker(self.back(output, SAME_COLUMNS))
        if picker is None or picker.op_type not in ("ArrayFeatureExtractor", "Gather") or len(picker.input) < 2:
            return None
        classes = self.constants.get(picker.input[0])
        argmax = self.maker(self.back(picker.input[1], SAME_COLUMNS))
        if classes is None or classes.ndim != 1 or argmax is None or argmax.op_type != "ArgMax":
            return None
        if _attribute(argmax, "axis") not in (1, -1) or self.column_root(argmax.input[0]) != root:
            return None
        values = _text(classes.tolist())
        source = f"constant {picker.input[0]!r} behind label output {output!r}"
        return GraphLabels(values, source, self._meaning(classes.tolist()), output)

    def _node_labels(self, node: onnx.NodeProto, source: str) -> GraphLabels | None:
        for name in LABEL_ATTRIBUTES:
            values = _attribute(node, name)
            if isinstance(values, list) and values:
                return GraphLabels(_text(values), source, self._meaning(values))
        return None

    def _meaning(self, values: list[object]) -> str:
        if all(isinstance(v, (int, np.integer)) for v in values) and list(values) == list(range(len(values))):
            return PRODUCER_MEANINGS.get(self.producer_name, UNSURE)
        return LABELS

    def scale(self, tensor: str) -> Scale:
        """Whether ``tensor`` holds probabilities, from the op that makes it."""
        source = self.back(tensor, SAME_COLUMNS + PICK_COLUMNS)
        node = self.maker(source)
        if node is None:
            return Scale(UNKNOWN, f"{source!r} is not computed by a node")
        where = f"{node.op_type} node {node.name or source!r}"
        if node.op_type in PROBABILITY_OPS:
            return Scale(PROBABILITY, where)
        if node.op_type == "LogSoftmax":
            return Scale(LOG_PROBABILITY, where)
        if node.op_type == "Log" and self.scale(node.input[0]).kind == PROBABILITY:
            return Scale(LOG_PROBABILITY, f"{where} of probabilities")
        if node.domain == ML_DOMAIN and node.op_type in CLASSIFIERS:
            return _classifier_scale(node, where)
        if node.op_type == "Concat":
            kinds = {self.scale(i).kind for i in node.input if i not in self.constants}
            if len(kinds) == 1:
                kind = kinds.pop()
                return Scale(kind, f"{where} of {'probabilities' if kind == PROBABILITY else 'its inputs'}")
            return Scale(UNKNOWN, where)
        if node.op_type == "Sub" and node.input[0] in self.constants and self.scale(node.input[1]).kind == PROBABILITY:
            return Scale(PROBABILITY, f"{where}: 1 - a probability")
        if node.op_type in LINEAR_OPS:
            return Scale(SCORES, f"{where} (a linear layer without softmax or sigmoid)")
        if node.op_type in ELEMENTWISE_OPS:
            return self._elementwise_scale(node, where)
        return Scale(UNKNOWN, where)

    def _elementwise_scale(self, node: onnx.NodeProto, where: str) -> Scale:
        """A bias added to raw scores keeps them raw scores; times or over a constant 1 changes nothing."""
        variable = [i for i in node.input if i not in self.constants]
        constant = [self.constants[i] for i in node.input if i in self.constants]
        if len(variable) != 1 or len(constant) != 1:
            return Scale(UNKNOWN, where)
        inner = self.scale(variable[0])
        if node.op_type in ("Mul", "Div") and np.all(constant[0] == 1):
            return inner
        if node.op_type in ("Add", "Sub") and inner.kind == SCORES:
            return Scale(SCORES, f"{where}, after {inner.source}")
        return Scale(UNKNOWN, where)

    def per_class_outputs(self) -> list[PerClassOutputs]:
        """Groups of float outputs that are each one column ``Slice``d from the same tensor, all columns covered."""
        columns: dict[str, dict[int, str]] = defaultdict(dict)
        for output, output_type in self.outputs.items():
            if output_type not in ("tensor(float)", "tensor(double)"):
                continue
            node = self.maker(self.back(output, SAME_COLUMNS))
            if node is None or node.op_type != "Slice" or len(node.input) < 4:
                continue
            starts, ends, axes = (self.constants.get(i) for i in node.input[1:4])
            if starts is None or ends is None or axes is None or starts.size != 1 or axes.size != 1:
                continue
            if int(axes.flat[0]) in (1, -1) and int(ends.flat[0]) == int(starts.flat[0]) + 1:
                columns[node.input[0]][int(starts.flat[0])] = output
        return [
            PerClassOutputs(tensor, tuple(found[k] for k in range(len(found))))
            for tensor, found in columns.items()
            if len(found) >= 2 and sorted(found) == list(range(len(found)))
        ]

    def external_data_files(self) -> list[str]:
        """The files beside the model that hold weights (initializers, Constant values, subgraphs' too)."""
        return external_data_files(self.model)


def _attribute_name(node: onnx.NodeProto) -> str:
    return next((a.name for a in node.attribute if a.name in LABEL_ATTRIBUTES), "labels")


def _classifier_scale(node: onnx.NodeProto, where: str) -> Scale:
    transform = _attribute(node, "post_transform")
    transform = transform.decode() if isinstance(transform, bytes) else (transform or "NONE")
    if transform != "NONE":
        return Scale(PROBABILITY, f"{where} with post_transform {transform}")
    if node.op_type == "SVMClassifier" and _attribute(node, "prob_a") is not None:
        return Scale(PROBABILITY, f"{where} with Platt scaling (prob_a, prob_b)")
    if node.op_type == "TreeEnsembleClassifier":  # leaf values averaged: a forest's probabilities, or scores
        return Scale(UNKNOWN, f"{where} with post_transform NONE")
    return Scale(SCORES, f"{where} with post_transform NONE (decision function)")


def external_data_files(model: onnx.ModelProto) -> list[str]:
    """The ``location`` of every tensor the model stores as external data, each once, in the order
    found: initializers (dense and sparse), node attributes (a Constant's ``value``...), subgraphs
    and the model's local functions. A tensor stored outside without a location is a ``ModelError``."""
    tensors = list(_tensors(model.graph))
    for function in model.functions:
        tensors.extend(_node_tensors(function.node))
    locations = []
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
            if not location:
                raise ModelError(f"Tensor {tensor.name!r} is stored as external data without a location.")
            locations.append(location)
    return list(dict.fromkeys(locations))


def _tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor a graph holds: initializers (dense and sparse) and node attributes, in its subgraphs too."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.TensorProto]:
    for node in nodes:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            sparse_tensors = list(attribute.sparse_tensors)
            if attribute.HasField("sparse_tensor"):
                sparse_tensors.append(attribute.sparse_tensor)
            for sparse in sparse_tensors:
                yield from (sparse.values, sparse.indices)
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)
