"""What onnxruntime loads: the model file itself, or a copy changed in memory when serving needs it.

* A ZipMap output, or the tensor behind per-class outputs, is read from the float tensor: that
  tensor becomes a graph output and the ZipMap is removed (onnxruntime would otherwise still run
  it, building one dict per row).
* A ``StringNormalizer`` names a locale (``en_US.UTF-8`` when it names none, as skl2onnx's
  ``TfidfVectorizer`` export does); onnxruntime cannot create the session on a host without it.
  Such a node is switched to ``C.UTF-8`` in the served copy, with a warning: case-folding of
  non-ASCII letters may then differ from the exporter's host.

A copy is loaded from bytes. Weights the model keeps in external data files (already checked to
be inside its folder) are read into the copy: onnxruntime cannot infer shapes from external
tensors of a model given as bytes.
"""

import locale
import logging
from pathlib import Path

import onnx
from onnx import helper
from onnx.external_data_helper import load_external_data_for_model

from .session import Model

logger = logging.getLogger(__name__)

DEFAULT_LOCALE = "en_US.UTF-8"  # onnxruntime's when a StringNormalizer names none
FALLBACK_LOCALE = "C.UTF-8"

def served_model(path: Path, model: onnx.ModelProto, exposed: dict[str, str]) -> Model:
    """``path`` itself, or the changed copy: ``exposed`` maps each output read through another
    tensor (a ZipMap's, per-class outputs) to that tensor."""
    unavailable = [
        i for i, n in enumerate(model.graph.node) if n.op_type == "StringNormalizer" and not _host_has(_locale_of(n))
    ]
    if not exposed and not unavailable:
        return path
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    load_external_data_for_model(changed, str(path.resolve().parent))
    for node in (changed.graph.node[i] for i in unavailable):
        logger.warning(
            "%s: StringNormalizer %r needs the locale %s, which this host lacks; serving it with %s.",
            path.name, node.name, _locale_of(node), FALLBACK_LOCALE,
        )
        _set_locale(node, FALLBACK_LOCALE)
    _expose(changed.graph, exposed)  # after: it reorders the nodes
    return changed.SerializeToString()


def _expose(graph: onnx.GraphProto, exposed: dict[str, str]) -> None:
    dropped = {n.output[0] for n in graph.node if n.op_type == "ZipMap" and n.output[0] in exposed}
    declared = {o.name: o.type.tensor_type.elem_type for o in graph.output if o.type.HasField("tensor_type")}
    kept_nodes = [n for n in graph.node if not (n.op_type == "ZipMap" and n.output[0] in dropped)]
    kept_outputs = [o for o in graph.output if o.name not in dropped]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.output[:]
    graph.output.extend(kept_outputs)
    present = {o.name for o in kept_outputs}
    for output, tensor in exposed.items():
        if tensor not in present:  # a ZipMap reads float; a column output has the type of the tensor it is cut from
            elem_type = declared.get(output, onnx.TensorProto.FLOAT)
            graph.output.append(helper.make_tensor_value_info(tensor, elem_type, None))
            present.add(tensor)


def _locale_of(node: onnx.NodeProto) -> str:
    for attribute in node.attribute:
        if attribute.name == "locale" and attribute.s:
            return attribute.s.decode()
    return DEFAULT_LOCALE


def _set_locale(node: onnx.NodeProto, name: str) -> None:
    kept = [a for a in node.attribute if a.name != "locale"]
    del node.attribute[:]
    node.attribute.extend(kept + [helper.make_attribute("locale", name)])


def _host_has(name: str, category: int = locale.LC_CTYPE) -> bool:
    """Whether the C library can switch to locale ``name`` (tried, then set back)."""
    previous = locale.setlocale(category)
    try:
        locale.setlocale(category, name)
        return True
    except locale.Error:
        return False
    finally:
        locale.setlocale(category, previous)

