"""Step 5: which session output holds the prediction, decided at load for each kind of target.

* regression, anomaly: the first output.
* binary, multiclass, multilabel: the output whose name contains ``prob`` (any case), else the
  first output. A label output (integer or string tensor) is never read as probabilities: when
  the rule lands on one, the first float output is used instead. A ZipMap output (one
  ``{label: probability}`` dict per row) is read from the float tensor that feeds the ZipMap,
  its columns named by the ZipMap's labels.
* ``DR_ONNX_OUTPUT`` (environment variable or runtime parameter) names the output to use for
  every target type instead, e.g. ``scores`` for a skl2onnx anomaly model rather than its ±1 ``label``.
"""

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

from .errors import MODEL_FAULT, DrOnnxError
from .graph import Labels, ZipMapSource

OUTPUT_SETTING = "DR_ONNX_OUTPUT"
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


def _listing(outputs: Sequence[OutputSpec]) -> str:
    return ", ".join(f"{o.name} ({o.onnx_type})" for o in outputs)


def _first(outputs: Sequence[OutputSpec]) -> OutputSpec:
    if not outputs:
        raise DrOnnxError("The model declares no outputs.", MODEL_FAULT)
    return outputs[0]


def _by_name(outputs: Sequence[OutputSpec], override: str) -> OutputSpec:
    for output in outputs:
        if output.name == override:
            return output
    raise DrOnnxError(
        f"{OUTPUT_SETTING}={override!r} names no output of the model; its outputs are: {_listing(outputs)}.",
        MODEL_FAULT,
    )


def value_output(outputs: Sequence[OutputSpec], override: Optional[str]) -> OutputChoice:
    """The output for regression and anomaly."""
    chosen = _by_name(outputs, override) if override else _first(outputs)
    if not chosen.onnx_type.startswith("tensor(") or chosen.onnx_type == "tensor(string)":
        raise DrOnnxError(
            f"Output {chosen.name!r} is {chosen.onnx_type}, not a numeric tensor; regression and anomaly "
            f"need one number per row. Outputs: {_listing(outputs)}. Pick one with {OUTPUT_SETTING}.",
            MODEL_FAULT,
        )
    reason = f"named by {OUTPUT_SETTING}" if override else "first output"
    return OutputChoice(chosen.name, chosen.name, reason)


def class_output(
    outputs: Sequence[OutputSpec],
    zipmaps: Dict[str, ZipMapSource],
    graph_labels: Optional[Labels],
    override: Optional[str],
) -> OutputChoice:
    """The probability output for binary, multiclass and multilabel."""
    if override:
        chosen, reason = _by_name(outputs, override), f"named by {OUTPUT_SETTING}"
    else:
        named = [o for o in outputs if "prob" in o.name.casefold()]
        chosen, reason = (named[0], "name contains 'prob'") if named else (_first(outputs), "first output")
        if not _holds_probabilities(chosen, zipmaps):
            floats = [o for o in outputs if _holds_probabilities(o, zipmaps)]
            if not floats:
                raise DrOnnxError(
                    f"No output can hold class probabilities (a float tensor or a ZipMap); outputs: "
                    f"{_listing(outputs)}.",
                    MODEL_FAULT,
                )
            reason = f"first float output ({chosen.name!r} is {chosen.onnx_type}, a predicted label)"
            chosen = floats[0]
    if chosen.name in zipmaps:
        source = zipmaps[chosen.name]
        return OutputChoice(chosen.name, source.tensor, f"{reason}; ZipMap read from {source.tensor!r}", source.labels)
    if chosen.onnx_type not in FLOAT_TENSORS:
        raise DrOnnxError(
            f"Output {chosen.name!r} is {chosen.onnx_type}, which cannot hold class probabilities. "
            f"Outputs: {_listing(outputs)}.",
            MODEL_FAULT,
        )
    return OutputChoice(chosen.name, chosen.name, reason, graph_labels)


def _holds_probabilities(output: OutputSpec, zipmaps: Dict[str, ZipMapSource]) -> bool:
    return output.onnx_type in FLOAT_TENSORS or output.name in zipmaps
