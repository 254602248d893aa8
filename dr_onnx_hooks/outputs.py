"""Which session output holds the prediction, decided at load for each kind of target.

* regression, anomaly: the first output.
* binary, multiclass, multilabel: the output whose name contains ``prob`` (any case), else the
  first output. A label output (integer or string tensor) is never read as probabilities: when
  the rule lands on one, the first float output is used instead. A ZipMap output (one
  ``{label: probability}`` dict per row) is read from the float tensor that feeds the ZipMap,
  its columns named by the ZipMap's labels.
* ``DR_ONNX_OUTPUT`` (``Settings.output``) names the output to use for
  every target type instead, e.g. ``scores`` for a skl2onnx anomaly model rather than its ±1 ``label``.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Union

from .errors import ModelError
from .graph import Labels, ZipMapSource
from .settings import OUTPUT_SETTING
from .targets import VALUE_TARGETS

FLOAT_TENSORS = ("tensor(float)", "tensor(double)", "tensor(float16)")


@dataclass(frozen=True)
class OutputSpec:
    """A declared graph output as onnxruntime reports it."""

    name: str
    onnx_type: str
    shape: tuple


@dataclass(frozen=True)
class OutputChoice:
    """The output a prediction is read from, the tensor actually fetched, and why."""

    name: str
    fetch: str
    reason: str
    labels: Optional[Labels] = None


Choice = Union[OutputChoice, ModelError]  # an error is kept, and raised for the targets it concerns


def kind(target: str) -> str:
    """``"value"`` (regression, anomaly) or ``"class"`` (binary, multiclass, multilabel)."""
    return "value" if target in VALUE_TARGETS else "class"


def choose_outputs(
    outputs: Sequence[OutputSpec],
    zipmaps: Dict[str, ZipMapSource],
    graph_labels: Optional[Labels],
    override: Optional[str],
    model_name: str,
) -> Dict[str, Choice]:
    """The output each kind of target reads. An override naming no output fails the load."""
    named = {o.name: o for o in outputs}
    if override and override not in named:
        raise ModelError(
            f"{OUTPUT_SETTING}={override!r} names no output of {model_name}; its outputs are: {', '.join(named)}."
        )
    chosen = named[override] if override else None
    return {
        "value": _attempt(lambda: value_output(outputs, chosen)),
        "class": _attempt(lambda: class_output(outputs, zipmaps, graph_labels, chosen)),
    }


def _attempt(decide: Callable[[], OutputChoice]) -> Choice:
    try:
        return decide()
    except ModelError as exc:
        return exc


def _first(outputs: Sequence[OutputSpec]) -> OutputSpec:
    if not outputs:
        raise ModelError("The model declares no outputs.")
    return outputs[0]


def _listing(outputs: Sequence[OutputSpec]) -> str:
    return ", ".join(f"{o.name} ({o.onnx_type})" for o in outputs)


def value_output(outputs: Sequence[OutputSpec], override: Optional[OutputSpec]) -> OutputChoice:
    """The output for regression and anomaly: ``override``, else the first."""
    chosen = override or _first(outputs)
    if not chosen.onnx_type.startswith("tensor(") or chosen.onnx_type == "tensor(string)":
        raise ModelError(
            f"Output {chosen.name!r} is {chosen.onnx_type}, not a numeric tensor; regression and anomaly "
            f"need one number per row. Outputs: {_listing(outputs)}. Pick one with {OUTPUT_SETTING}."
        )
    reason = f"named by {OUTPUT_SETTING}" if override else "first output"
    return OutputChoice(chosen.name, chosen.name, reason)


def class_output(
    outputs: Sequence[OutputSpec],
    zipmaps: Dict[str, ZipMapSource],
    graph_labels: Optional[Labels],
    override: Optional[OutputSpec],
) -> OutputChoice:
    """The probability output for binary, multiclass and multilabel: ``override``, else by the rules above."""
    if override:
        chosen, reason = override, f"named by {OUTPUT_SETTING}"
    else:
        named = [o for o in outputs if "prob" in o.name.casefold()]
        chosen, reason = (named[0], "name contains 'prob'") if named else (_first(outputs), "first output")
        if not _holds_probabilities(chosen, zipmaps):
            floats = [o for o in outputs if _holds_probabilities(o, zipmaps)]
            if not floats:
                raise ModelError(
                    f"No output can hold class probabilities (a float tensor or a ZipMap); outputs: "
                    f"{_listing(outputs)}."
                )
            reason = f"first float output ({chosen.name!r} is {chosen.onnx_type}, a predicted label)"
            chosen = floats[0]
    if chosen.name in zipmaps:
        source = zipmaps[chosen.name]
        return OutputChoice(chosen.name, source.tensor, f"{reason}; ZipMap read from {source.tensor!r}", source.labels)
    if chosen.onnx_type not in FLOAT_TENSORS:
        raise ModelError(
            f"Output {chosen.name!r} is {chosen.onnx_type}, which cannot hold class probabilities. "
            f"Outputs: {_listing(outputs)}."
        )
    return OutputChoice(chosen.name, chosen.name, reason, graph_labels)


def _holds_probabilities(output: OutputSpec, zipmaps: Dict[str, ZipMapSource]) -> bool:
    return output.onnx_type in FLOAT_TENSORS or output.name in zipmaps
