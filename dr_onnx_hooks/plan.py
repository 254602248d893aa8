"""The model's plan: everything that depends only on the model, decided once at load, and the
straight per-request path that follows it. docs/architecture.md draws the same two paths.

Load (``ModelPlan.load``, once per server worker):

* ``artifact.read_graph``: the graph of the ``.onnx`` file (weights in external data not read),
  indexed by ``graph.Graph``; its external data files must be in the model's folder;
* ``outputs.choose_outputs``: the output each kind of target reads, its class labels and where
  they come from, whether it holds probabilities (``graph``);
* ``served.served_model``: what onnxruntime gets, the file itself or a copy (ZipMaps bypassed,
  per-class outputs read as one tensor, locales the host lacks);
* ``session.create_session``: the session, with ``Settings.session``;
* ``inputs.InputFeed``: one cast per declared input;
* ``run.Runner``, then ``warmup.warm_up``: one run on made-up rows, whose outputs settle what the
  graph left open (``_checked_on_warm_up``: an output of unknown scale, the labels against the
  model's own label output);
* ``Settings.target_type``, when set, checked against the outputs: a model that cannot serve it
  fails the load instead of its first request.

Request (``hooks.score`` -> ``ModelPlan.predict``):

* ``targets.target_type`` and ``labels.request_labels``: what DRUM asks for;
* ``InputFeed``: the frame's columns cast to the declared inputs;
* ``Runner``: ``session.run`` of the one chosen tensor, in slices when large;
* ``labels.class_columns``: which label names each column (resolved once per labels and cached);
* ``frame``: the conversion decided at load (exp, softmax, sigmoid), then the DataFrame DRUM gets back.
"""

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd

from .artifact import read_graph
from .errors import ModelError
from .frame import NOISE, PREDICTIONS, TRANSFORMS, probability_frame, value_frame
from .graph import PROBABILITY, UNKNOWN, Graph, GraphLabels, Labels, Scale, declared_outputs
from .inputs import InputFeed, ModelInput
from .labels import ClassColumns, class_columns
from .outputs import Choice, OutputChoice, OutputSpec, choose_outputs, kind, not_probabilities
from .quoting import MESSAGE, escaped
from .run import Runner
from .served import served_model
from .session import create_session
from .settings import Settings
from .targets import TARGETS, VALUE_TARGETS
from .warmup import warm_up

logger = logging.getLogger(__name__)


class ModelPlan:
    """The session plus the decisions made at load; what ``load_model`` returns."""

    def __init__(
        self, path: Path, settings: Settings, session: ort.InferenceSession, outputs: list[OutputSpec],
        feed: InputFeed, runner: Runner, choices: dict[str, Choice], warm_seconds: float | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.session = session
        self.outputs = outputs  # as the model file declares them (the session may read a ZipMap's input instead)
        self.feed = feed
        self.runner = runner
        self.choices = choices
        self._columns: dict[tuple[str, Labels, int], ClassColumns] = {}
        self.warm_seconds = warm_seconds  # the warm-up run's time; None when it did not complete

    @classmethod
    def load(cls, path: Path, settings: Settings) -> "ModelPlan":
        """Plan the scoring of the model file ``path`` (``artifact.find_artifact`` finds it in a folder)."""
        model = read_graph(path)
        graph = Graph(model)
        _check_external_data(path, graph.external_data_files())
        outputs = [OutputSpec(*declared) for declared in declared_outputs(model)]
        choices = choose_outputs(graph, outputs, settings.output, settings.logits, path.name)
        exposed = {
            (c.stands_for or (c.name,))[0]: c.fetch
            for c in choices.values() if isinstance(c, OutputChoice) and c.fetch not in graph.outputs
        }
        session = create_session(served_model(path, model, exposed), path, settings.session)
        inputs = [ModelInput.declared(i.name, i.type, i.shape) for i in session.get_inputs()]
        feed = InputFeed(inputs, show_values=settings.show_values)
        runner = Runner(session, feed.batch_size, settings.chunk_rows, settings.run_timeout)
        started = time.perf_counter()
        warmed = warm_up(session, settings.warmup_timeout)
        warm_seconds = time.perf_counter() - started if warmed is not None else None
        if warmed is not None and isinstance(choices["class"], OutputChoice):
            choices["class"] = _checked_on_warm_up(choices["class"], warmed)
        plan = cls(path, settings, session, outputs, feed, runner, choices, warm_seconds)
        if settings.target_type in TARGETS:
            plan.choice(settings.target_type)
        logger.info("dr_onnx_hooks loaded %s; settings: %s", plan.summary(), settings.describe())
        return plan

    def choice(self, target: str) -> OutputChoice:
        """The output ``target`` reads; the reason it cannot be served as a ``ModelError``."""
        choice = self.choices[kind(target)]
        if isinstance(choice, ModelError):
            raise choice
        return choice

    def predict(self, frame: pd.DataFrame, target: str, labels: Labels) -> pd.DataFrame:
        """Score ``frame`` for ``target``; ``labels`` are those DataRobot sent (empty for regression)."""
        choice = self.choice(target)
        feeds = self.feed(frame)
        if len(frame) == 0:
            return pd.DataFrame(columns=[PREDICTIONS] if target in VALUE_TARGETS else list(labels))
        values = self.runner(feeds, choice.fetch).reshape(len(frame), -1)
        if target in VALUE_TARGETS:
            return value_frame(values, choice.name, data=frame)
        columns = self.columns(target, labels, values.shape[1], choice)
        return probability_frame(
            values, columns, choice.name, sum_to_one=target != "multilabel", data=frame, transform=choice.transform
        )

    def columns(self, target: str, labels: Labels, width: int, choice: OutputChoice) -> ClassColumns:
        """The column naming for this target, labels and output width, resolved once and reused."""
        key = (target, labels, width)
        if key not in self._columns:
            self._columns[key] = class_columns(
                target, labels, choice.labels, width, choice.name, self.settings.class_order
            )
        return self._columns[key]

    @property
    def graph_labels(self) -> GraphLabels | None:
        """The class labels the graph keeps for its probability output, if any."""
        choice = self.choices["class"]
        return choice.labels if isinstance(choice, OutputChoice) else None

    def summary(self) -> str:
        """One line: file, inputs, chosen outputs, what the class output holds, graph labels, providers."""
        inputs = ", ".join(f"{escaped(i.name)} {i.onnx_type} {list(i.shape)}" for i in self.feed.inputs)
        chosen = "; ".join(
            f"{kind}: {escaped(c.name)} ({escaped(c.reason, MESSAGE)})" if isinstance(c, OutputChoice)
            else f"{kind}: none ({escaped(str(c).split(';')[0], MESSAGE)})"
            for kind, c in self.choices.items()
        )
        found = self.graph_labels
        labels = f"{list(found.labels)} ({found.source}; {found.meaning})" if found else "none"
        choice = self.choices["class"]
        serves_classes = self.settings.target_type not in VALUE_TARGETS  # None: any target, per request
        held = ""
        if isinstance(choice, OutputChoice) and serves_classes:
            held = f"class output holds {choice.scale_note}; "
        return (
            f"{escaped(self.path.name)}: inputs [{inputs}]; outputs {chosen}; {held}graph labels {labels}; "
            f"providers {self.session.get_providers()}"
        )


def _check_external_data(path: Path, files: list[str]) -> None:
    """Every external data file the graph names is a file inside the model's folder."""
    folder = path.resolve().parent
    outside = [f for f in files if not (folder / f).resolve().is_relative_to(folder)]
    if outside:
        raise ModelError(
            f"{path.name} refers to external data outside its folder ({', '.join(map(repr, outside))}); a model "
            "may read only files in its own folder: export it with its weights beside it or inside it."
        )
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise ModelError(
            f"{path.name} keeps weights in {', '.join(map(repr, missing))}, which is not in {str(path.parent)!r}: "
            f"put it beside {path.name} (in DataRobot, upload it with the model), or export the model with its "
            "weights inside (torch.onnx.export(..., external_data=False))."
        )


def _checked_on_warm_up(choice: OutputChoice, warmed: dict[str, np.ndarray]) -> Choice:
    """What the warm-up run's outputs settle: whether an output of unknown scale holds probabilities
    (values outside [0, 1] refuse it), and whether the labels derived from the graph agree with
    the model's own label output at the argmax (a contradiction is logged loudly)."""
    raw = warmed.get(choice.fetch)
    if raw is None:
        return choice
    raw = np.asarray(raw, dtype=np.float64)
    values = TRANSFORMS[choice.transform](raw.reshape(len(raw), -1))
    if choice.scale.kind == UNKNOWN and choice.transform == "none" and values.size and np.isfinite(values).all():
        low, high = values.min(), values.max()
        if low < -NOISE or high > 1 + NOISE:
            return not_probabilities(
                choice.name, f"on the warm-up run its values range from {low:.6g} to {high:.6g} ({choice.scale.source})"
            )
        if values.shape[1] > 1 and np.abs(values.sum(axis=1) - 1).max() <= NOISE:
            choice = replace(choice, scale=Scale(PROBABILITY, f"{choice.scale.source}; warm-up rows sum to 1"))
    found = choice.labels
    emitted = warmed.get(found.label_output) if found and found.label_output else None
    if found is None or emitted is None or values.shape[1] != len(found.labels):
        return choice
    said = [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(emitted).reshape(-1).tolist()]
    derived = [found.labels[i] for i in values.argmax(axis=1)]
    if said == derived:
        return replace(choice, agreement=f"label output {found.label_output!r} agrees on the warm-up rows")
    message = (
        f"the model contradicts itself: its label output {found.label_output!r} says {said} on the warm-up rows, "
        f"but the labels {list(found.labels)} ({found.source}) at the argmax of {choice.name!r} say {derived}"
    )
    logger.warning("dr_onnx_hooks: %s. Check the labels DataRobot sends against the model's.", message)
    return replace(choice, agreement=message)
