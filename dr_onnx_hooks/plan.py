"""The model's plan: everything that depends only on the model, decided once at load, and the
straight per-request path that follows it: input feed -> run -> output -> labels -> DataFrame."""

import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import onnxruntime as ort
import pandas as pd

from .artifact import find_artifact, read_graph
from .errors import MODEL_FAULT, DrOnnxError
from .frame import PREDICTIONS, probability_frame, rows_of, value_frame
from .graph import Labels, bypass_zipmaps, classifier_labels, declared_outputs, has_external_data, zipmap_sources
from .inputs import InputFeed, ModelInput
from .labels import ClassColumns, class_columns
from .outputs import OUTPUT_SETTING, OutputChoice, OutputSpec, class_output, value_output
from .run import Runner
from .session import create_session
from .settings import read_setting
from .targets import CLASS_TARGETS, VALUE_TARGETS

logger = logging.getLogger(__name__)

Choice = Union[OutputChoice, DrOnnxError]  # an error is kept and raised for the targets it concerns


def _kind(target: str) -> str:
    return "value" if target in VALUE_TARGETS else "class"


class ModelPlan:
    """The session plus the decisions made at load; what ``load_model`` returns."""

    def __init__(
        self, path: Path, session: ort.InferenceSession, outputs: List[OutputSpec], feed: InputFeed,
        runner: Runner, choices: Dict[str, Choice],
    ) -> None:
        self.path = path
        self.session = session
        self.outputs = outputs  # as the model file declares them (the session may read a ZipMap's input instead)
        self.feed = feed
        self.runner = runner
        self.choices = choices
        self._columns: Dict[Tuple[str, Labels, int], ClassColumns] = {}

    @classmethod
    def load(cls, model_dir: Path) -> "ModelPlan":
        path = find_artifact(model_dir)
        graph = read_graph(path)
        outputs = [OutputSpec(*declared) for declared in declared_outputs(graph)]
        override = read_setting(OUTPUT_SETTING)
        if override and override not in {o.name for o in outputs}:
            raise DrOnnxError(
                f"{OUTPUT_SETTING}={override!r} names no output of {path.name}; its outputs are: "
                f"{', '.join(o.name for o in outputs)}.",
                MODEL_FAULT,
            )
        choices: Dict[str, Choice] = {
            "value": _attempt(lambda: value_output(outputs, override)),
            "class": _attempt(lambda: class_output(outputs, zipmap_sources(graph), classifier_labels(graph), override)),
        }
        bypassed = {c.name: c.fetch for c in choices.values() if isinstance(c, OutputChoice) and c.fetch != c.name}
        if bypassed and has_external_data(graph):
            choices["class"] = DrOnnxError(
                f"{path.name} keeps its weights in external data files and ends in a ZipMap; export it with "
                "zipmap=False (skl2onnx option) to serve it.",
                MODEL_FAULT,
            )
            bypassed = {}
        session = create_session(bypass_zipmaps(graph, bypassed) if bypassed else path, path.name)
        feed = InputFeed([ModelInput.declared(i.name, i.type, i.shape) for i in session.get_inputs()])
        plan = cls(path, session, outputs, feed, Runner.load(session, feed.batch_size), choices)
        target = os.environ.get("TARGET_TYPE", "").strip().lower()
        if target in VALUE_TARGETS + CLASS_TARGETS:
            plan.choice(target)  # fail at load, not at the first request, when the target is known
        logger.info("dr_onnx_hooks loaded %s", plan.summary())
        return plan

    def choice(self, target: str) -> OutputChoice:
        choice = self.choices[_kind(target)]
        if isinstance(choice, DrOnnxError):
            raise choice
        return choice

    def predict(self, frame: pd.DataFrame, target: str, labels: Labels) -> pd.DataFrame:
        """Score ``frame`` for ``target``; ``labels`` are those DataRobot sent (empty for regression)."""
        choice = self.choice(target)
        feeds = self.feed(frame)
        if len(frame) == 0:
            return pd.DataFrame(columns=[PREDICTIONS] if target in VALUE_TARGETS else list(labels))
        values = rows_of(self.runner(feeds, choice.fetch), len(frame), choice.name)
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


def _attempt(decide) -> Choice:
    try:
        return decide()
    except DrOnnxError as exc:
        return exc
