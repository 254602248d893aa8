"""What the ONNX graph itself says: the class labels it carries and where ZipMap nodes read from.

Converters store class labels on ``ai.onnx.ml`` nodes (``classlabels_strings`` or
``classlabels_int64s`` on ``LinearClassifier``, ``TreeEnsembleClassifier``, ``SVMClassifier``,
``ZipMap``...). A ZipMap turns a float ``[N, C]`` tensor into one ``{label: probability}`` dict per
row; we read that float tensor directly instead, with the ZipMap's labels naming its columns.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

import onnx
from onnx import helper

ML_DOMAIN = "ai.onnx.ml"
LABEL_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s")

Labels = Tuple[str, ...]


@dataclass(frozen=True)
class ZipMapSource:
    """The float tensor a ZipMap output is made from, and the labels of its columns."""

    tensor: str
    labels: Labels


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


def declared_outputs(model: onnx.ModelProto) -> List[Tuple[str, str, Tuple[Union[int, str, None], ...]]]:
    """Name, type and shape of each graph output, as ``InferenceSession.get_outputs`` would give them."""
    def dim(d: onnx.TensorShapeProto.Dimension) -> Union[int, str, None]:
        return d.dim_value if d.HasField("dim_value") else (d.dim_param or None)

    return [
        (o.name, type_name(o.type), tuple(dim(d) for d in o.type.tensor_type.shape.dim))
        for o in model.graph.output
    ]


def node_labels(node: onnx.NodeProto) -> Optional[Labels]:
    """The class labels stored on an ``ai.onnx.ml`` node, as strings; None if it has none."""
    if node.domain != ML_DOMAIN:
        return None
    for attribute in node.attribute:
        if attribute.name in LABEL_ATTRIBUTES:
            values = helper.get_attribute_value(attribute)
            return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)
    return None


def zipmap_sources(model: onnx.ModelProto) -> Dict[str, ZipMapSource]:
    """Graph output name -> the ZipMap feeding it, for every output made by a ZipMap node."""
    outputs = {o.name for o in model.graph.output}
    sources = {}
    for node in model.graph.node:
        if node.op_type == "ZipMap" and node.domain == ML_DOMAIN and node.output[0] in outputs:
            labels = node_labels(node)
            if labels:
                sources[node.output[0]] = ZipMapSource(tensor=node.input[0], labels=labels)
    return sources


def classifier_labels(model: onnx.ModelProto) -> Optional[Labels]:
    """The class labels of the graph's classifier nodes when they all agree, else None."""
    found = {labels for node in model.graph.node if (labels := node_labels(node))}
    return found.pop() if len(found) == 1 else None


def bypass_zipmaps(model: onnx.ModelProto, bypassed: Dict[str, str]) -> bytes:
    """The model serialised with each ZipMap output in ``bypassed`` (output -> the tensor feeding
    its ZipMap) replaced by that float tensor, and the ZipMap node removed: onnxruntime would
    otherwise still build one dict per row even when only the tensor is fetched."""
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    graph = changed.graph
    kept_nodes = [n for n in graph.node if not (n.op_type == "ZipMap" and n.output[0] in bypassed)]
    kept_outputs = [o for o in graph.output if o.name not in bypassed]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.output[:]
    graph.output.extend(kept_outputs)
    exposed = [t for t in dict.fromkeys(bypassed.values()) if t not in {o.name for o in kept_outputs}]
    graph.output.extend(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None) for t in exposed)
    return changed.SerializeToString()


def has_external_data(model: onnx.ModelProto) -> bool:
    """True when some weights live in files beside the model (they are resolved from its path)."""
    return any(
        t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer
    )
