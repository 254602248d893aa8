"""Which session output holds the prediction, decided at load for each kind of target.

* regression, anomaly: the first output.
* binary, multiclass, multilabel: outputs that are one column each of the same tensor (skl2onnx
  ``zipmap="columns"``) are read together as that tensor, in column order; else the output whose
  name contains ``prob`` (any case), else the first output. A label output (integer or string
  tensor) is never read as probabilities: when the rule lands on one, the first float output is
  used instead. A ZipMap output (one ``{label: probability}`` dict per row) is read from the
  float tensor that feeds the ZipMap, its columns named by the ZipMap's labels.
* ``DR_ONNX_OUTPUT`` (``Settings.output``) names the output to use for every target type
  instead, e.g. ``scores`` for a skl2onnx anomaly model rather than its ±1 ``label``.

Whether the class output holds probabilities is decided here too, from the graph
(``graph.Graph.scale``), never from one request's values: log-probabilities are exponentiated;
raw scores are refused unless ``DR_ONNX_LOGITS`` says they are logits and which function turns
them into probabilities (``softmax`` or ``sigmoid``); an unknown scale is judged on the
warm-up run (``plan``).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import ModelError
from .graph import LOG_PROBABILITY, PROBABILITY, SCORES, UNKNOWN, Graph, GraphLabels, Scale
from .settings import LOGITS_SETTING, OUTPUT_SETTING
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

    name: str  # in messages: a graph output, or the tensor behind per-class outputs
    fetch: str
    reason: str
    labels: GraphLabels | None = None
    scale: Scale = Scale(UNKNOWN, "not a class output")
    transform: str = "none"  # applied to the fetched values: none, exp, softmax or sigmoid (frame.TRANSFORMS)
    stands_for: tuple[str, ...] = ()  # graph outputs read through ``fetch`` instead (a ZipMap's, per-class ones)
    agreement: str = ""  # what the warm-up run said of the labels against the model's own label output

    @property
    def scale_note(self) -> str:
        """What the values are and what is done to them, for the load log and ``inspect``."""
        applied = "" if self.transform == "none" else f"; {self.transform} applied"
        return f"{self.scale.kind} ({self.scale.source}){applied}"


Choice = OutputChoice | ModelError  # an error is kept, and raised for the targets it concerns


def kind(target: str) -> str:
    """``"value"`` (regression, anomaly) or ``"class"`` (binary, multiclass, multilabel)."""
    return "value" if target in VALUE_TARGETS else "class"


def choose_outputs(
    graph: Graph, outputs: Sequence[OutputSpec], override: str | None, logits: str | None, model_name: str,
) -> dict[str, Choice]:
    """The output each kind of target reads. An override naming no output fails the load."""
    named = {o.name: o for o in outputs}
    if override and override not in named:
        raise ModelError(
            f"{OUTPUT_SETTING}={override!r} names no output of {model_name}; its outputs are: {', '.join(named)}."
        )
    chosen = named[override] if override else None
    return {
        "value": _attempt(lambda: value_output(outputs, chosen)),
        "class": _attempt(lambda: class_output(graph, outputs, chosen, logits)),
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


def value_output(outputs: Sequence[OutputSpec], override: OutputSpec | None) -> OutputChoice:
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
    graph: Graph, outputs: Sequence[OutputSpec], override: OutputSpec | None, logits: str | None
) -> OutputChoice:
    """The probability output for binary, multiclass and multilabel: ``override``, else by the rules above."""
    zipmaps = graph.zipmap_sources()
    per_class = graph.per_class_outputs()
    if override:
        chosen, reason = override, f"named by {OUTPUT_SETTING}"
    elif per_class:
        group = per_class[0]
        reason = f"one output per class ({', '.join(group.outputs)}), read together from {group.tensor!r}"
        labels = graph.labels(group.tensor)
        return _probabilities(graph, group.tensor, group.tensor, reason, labels, logits, group.outputs)
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
        reason = f"{reason}; ZipMap read from {source.tensor!r}"
        return _probabilities(graph, chosen.name, source.tensor, reason, source.labels, logits, (chosen.name,))
    if chosen.onnx_type not in FLOAT_TENSORS:
        raise ModelError(
            f"Output {chosen.name!r} is {chosen.onnx_type}, which cannot hold class probabilities. "
            f"Outputs: {_listing(outputs)}."
        )
    return _probabilities(graph, chosen.name, chosen.name, reason, graph.labels(chosen.name), logits, ())


def _probabilities(
    graph: Graph, name: str, fetch: str, reason: str, labels: GraphLabels | None, logits: str | None,
    stands_for: tuple[str, ...],
) -> OutputChoice:
    """The choice, with how its values become probabilities; a ``ModelError`` when they cannot."""
    scale = graph.scale(fetch)
    if logits:
        if scale.kind in (PROBABILITY, LOG_PROBABILITY):
            raise ModelError(
                f"{LOGITS_SETTING}={logits} asks to apply {logits} to output {name!r}, but it holds {scale.kind} "
                f"already ({scale.source}); unset {LOGITS_SETTING}."
            )
        transform = logits
    elif scale.kind == SCORES:
        raise not_probabilities(name, f"it holds {scale.kind} ({scale.source})")
    else:
        transform = "exp" if scale.kind == LOG_PROBABILITY else "none"
    return OutputChoice(name, fetch, reason, labels, scale, transform, stands_for)


def not_probabilities(name: str, detail: str) -> ModelError:
    """The error for a class output whose values are not probabilities, saying what to do."""
    return ModelError(
        f"Output {name!r} does not hold probabilities: {detail}. If they are logits, set {LOGITS_SETTING}=softmax "
        f"(one column per class) or {LOGITS_SETTING}=sigmoid (one column: the positive class) to turn them into "
        f"probabilities; otherwise export the model with its softmax/sigmoid, or pick the probability output "
        f"with {OUTPUT_SETTING}."
    )


def _holds_probabilities(output: OutputSpec, zipmaps: dict) -> bool:
    return output.onnx_type in FLOAT_TENSORS or output.name in zipmaps
