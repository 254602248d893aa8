"""The model's plan: everything that depends only on the model, decided once at load, and the
straight per-request path that follows it. docs/architecture.md draws the same two paths.

Load (``ModelPlan.load``, once per server worker):

* ``artifact.read_graph``: the graph of the ``.onnx`` file (weights in external data not read);
* ``outputs.choose_outputs``: the output each kind of target reads, with the graph's class labels
  (``graph``: ZipMap keys, classifier node attributes);
* ``_served_model``: what onnxruntime gets, the file itself or the graph with its ZipMaps bypassed;
* ``session.create_session``: the session, with ``Settings.session``;
* ``inputs.InputFeed``: one cast per declared input;
* ``run.Runner``, then ``warmup.warm_up``: one run on made-up rows;
* ``Settings.target_type``, when set, checked against the outputs: a model that cannot serve it
  fails the load instead of its first request.

Request (``hooks.score`` -> ``ModelPlan.predict``):

* ``targets.target_type`` and ``labels.request_labels``: what DRUM asks for;
* ``InputFeed``: the frame's columns cast to the declared inputs;
* ``Runner``: ``session.run`` of the one chosen tensor, in slices when large;
* ``labels.class_columns``: which label names each column (resolved once per labels and cached);
* ``frame``: the DataFrame DRUM gets back.
"""

import logging
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import onnx
import onnxruntime as ort
import pandas as pd

from .artifact import read_graph
from .errors import ModelError
from .frame import PREDICTIONS, probability_frame, value_frame
from .graph import Labels, bypass_zipmaps, classifier_labels, declared_outputs, has_external_data, zipmap_sources
from .inputs import InputFeed, ModelInput
from .labels import ClassColumns, class_columns
from .outputs import Choice, OutputChoice, OutputSpec, choose_outputs, kind
from .run import Runner
from .session import Model, create_session
from .settings import Settings
from .targets import TARGETS, VALUE_TARGETS
from .warmup import warm_up

logger = logging.getLogger(__name__)


class ModelPlan:
    """The session plus the decisions made at load; what ``load_model`` returns."""

    def __init__(
        self, path: Path, settings: Settings, session: ort.InferenceSession, outputs: List[OutputSpec],
        feed: InputFeed, runner: Runner, choices: Dict[str, Choice],
    ) -> None:
        self.path = path
        self.settings = settings
        self.session = session
        self.outputs = outputs  # as the model file declares them (the session may read a ZipMap's input instead)
        self.feed = feed
        self.runner = runner
        self.choices = choices
        self._columns: Dict[Tuple[str, Labels, int], ClassColumns] = {}

    @classmethod
    def load(cls, path: Path, settings: Settings) -> "ModelPlan":
        """Plan the scoring of the model file ``path`` (``artifact.find_artifact`` finds it in a folder)."""
        graph = read_graph(path)
        outputs = [OutputSpec(*declared) for declared in declared_outputs(graph)]
        choices = choose_outputs(outputs, zipmap_sources(graph), classifier_labels(graph), settings.output, path.name)
        served, choices = _served_model(path, graph, choices)
        session = create_session(served, path.name, settings.session)
        feed = InputFeed([ModelInput.declared(i.name, i.type, i.shape) for i in session.get_inputs()])
        runner = Runner(session, feed.batch_size, settings.chunk_rows)
        warm_up(session)
        plan = cls(path, settings, session, outputs, feed, runner, choices)
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
            return value_frame(values, choice.name)
        columns = self.columns(target, labels, values.shape[1], choice)
        return probability_frame(values, columns, choice.name, sum_to_one=target != "multilabel", data=frame)

    def columns(self, target: str, labels: Labels, width: int, choice: OutputChoice) -> ClassColumns:
        """The column naming for this target, labels and output width, resolved once and reused."""
        key = (target, labels, width)
        if key not in self._columns:
            self._columns[key] = class_columns(target, labels, choice.labels, width, choice.name)
        return self._columns[key]

    @property
    def graph_labels(self) -> Optional[Labels]:
        """The class labels the graph carries for its probability output, if any."""
        choice = self.choices["class"]
        return choice.labels if isinstance(choice, OutputChoice) else None

    def summary(self) -> str:
        """One line: file, inputs, chosen outputs, graph labels, providers."""
        inputs = ", ".join(f"{i.name} {i.onnx_type} {list(i.shape)}" for i in self.feed.inputs)
        chosen = "; ".join(
            f"{kind}: {c.name} ({c.reason})" if isinstance(c, OutputChoice) else f"{kind}: none ({str(c).split(';')[0]})"
            for kind, c in self.choices.items()
        )
        labels = self.graph_labels
        return (
            f"{self.path.name}: inputs [{inputs}]; outputs {chosen}; graph labels {list(labels) if labels else 'none'}; "
            f"providers {self.session.get_providers()}"
        )


def _served_model(path: Path, graph: onnx.ModelProto, choices: Dict[str, Choice]) -> Tuple[Model, Dict[str, Choice]]:
    """What onnxruntime loads, and the choices it can serve.

    An output read through its ZipMap's float input is served from a copy of the graph without
    that ZipMap (``graph.bypass_zipmaps``). The copy is loaded from bytes, so weights stored as
    external data beside the file would not resolve: such a model serves no class target.
    """
    bypassed = {c.name: c.fetch for c in choices.values() if isinstance(c, OutputChoice) and c.fetch != c.name}
    if not bypassed:
        return path, choices
    if has_external_data(graph):
        refused = ModelError(
            f"{path.name} keeps its weights in external data files and ends in a ZipMap; export it with "
            "zipmap=False (skl2onnx option) to serve it."
        )
        return path, {**choices, "class": refused}
    return bypass_zipmaps(graph, bypassed), choices
