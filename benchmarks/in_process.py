"""Section "score() against the floor and DRUM's built-in path".

``score()`` against the floor, a hand-written hook on the same session that fetches only the
probability tensor and names its two columns, and against DRUM 1.18.1's path for a model folder without ``custom.py``
(``ONNXPredictor().predict`` then ``marshal_predictions``, on DRUM's own session), at each of
``SIZES`` rows. Where ``score()`` trails DRUM, the same comparison again with a plan whose session
spins as onnxruntime's does by default (unbounded), and DRUM's marshalling against our
probability frame: what bounds the miss.
"""

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from datarobot_drum.drum.artifact_predictors.onnx_predictor import ONNXPredictor
from datarobot_drum.drum.data_marshalling import marshal_predictions
from datarobot_drum.drum.enum import TargetType

from dr_onnx_hooks import score
from dr_onnx_hooks.frame import probability_frame
from dr_onnx_hooks.plan import ModelPlan
from dr_onnx_hooks.settings import Settings

from .harness import KWARGS, NEGATIVE, POSITIVE, SIZES, Report, load_plan, medians, ms, row_count

MODELS = ("logreg", "forest", "mlp")


def drum_builtin(path: Path) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """DRUM 1.18.1's path for a model folder without custom.py: its own session, predict, marshal."""
    predictor = ONNXPredictor()
    session = predictor.load_model_from_artifact(str(path))
    class_ordering = [POSITIVE, NEGATIVE]  # what BaseLanguagePredictor passes for binary

    def predict(frame: pd.DataFrame) -> pd.DataFrame:
        predictions, labels = predictor.predict(frame, session, **KWARGS)
        return marshal_predictions(class_ordering, predictions, TargetType.BINARY, model_labels=labels)

    return predict


def floor(plan: ModelPlan) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A hand-written hook for the no-ZipMap graph, on ``plan``'s session (our thread settings): the
    probability tensor alone, as a frame named by the labels; no checks at all."""
    name, fetch = plan.session.get_inputs()[0].name, plan.choice("binary").fetch
    columns = [NEGATIVE, POSITIVE]
    return lambda frame: pd.DataFrame(plan.session.run([fetch], {name: frame.to_numpy(np.float32)})[0], columns=columns)


def in_process(
    report: Report, models: dict[str, Path], frames: dict[int, pd.DataFrame], settings: Settings
) -> dict[str, ModelPlan]:
    """The section; returns the plans (loaded with ``settings``) that later sections reuse."""
    report.heading(
        "score() against the floor and DRUM's built-in path",
        "Milliseconds per call (median). *floor*: a hand-written hook on the same session, "
        "`pd.DataFrame(session.run([probabilities], {name: df.to_numpy(np.float32)})[0], columns=[negative, "
        "positive])`; *DRUM*: `ONNXPredictor().predict` + `marshal_predictions`, on DRUM's own "
        "`InferenceSession(path)`.",
    )
    plans, rows, behind = {}, [], []
    for name in MODELS:
        plans[name] = load_plan(models[name], settings)
        builtin = drum_builtin(models[name] / "model.onnx")
        bare = floor(plans[name])
        for size in SIZES:
            frame = frames[size]
            t = medians({
                "score": partial(score, frame, plans[name], **KWARGS),
                "floor": partial(bare, frame),
                "drum": partial(builtin, frame),
            })
            rows.append([name, f"{size:,}", ms(t["score"]), ms(t["floor"]), ms(t["drum"]),
                         f"{t['score'] / t['floor']:.2f}", f"{t['score'] / t['drum']:.2f}"])
            report.row(rows[-1])
            if size >= 10_000:
                report.target(f"{name}: score / floor at {row_count(size)}", t["score"] / t["floor"], 1.2)
            if not report.target(f"{name}: score / DRUM built-in at {row_count(size)}", t["score"] / t["drum"], 1.0):
                behind.append((name, size))
    report.table(["model", "rows", "score ms", "floor ms", "DRUM ms", "score/floor", "score/DRUM"], rows)
    if behind:
        behind_drum(report, models, frames, plans, behind, settings)
    return plans


def behind_drum(
    report: Report, models: dict[str, Path], frames: dict[int, pd.DataFrame], plans: dict[str, ModelPlan],
    behind: Sequence[tuple[str, int]], settings: Settings,
) -> None:
    """Why score() trails DRUM's built-in path where it does: the frame against DRUM's marshalling, and spinning."""
    spins = replace(settings, session=replace(settings.session, allow_spinning=True, spin_microseconds=0))
    spinning = {name: load_plan(models[name], spins) for name in {name for name, _ in behind}}
    rows = []
    for name, size in behind:
        frame, builtin = frames[size], drum_builtin(models[name] / "model.onnx")
        t = medians({
            "score": partial(score, frame, plans[name], **KWARGS),
            "spinning": partial(score, frame, spinning[name], **KWARGS),
            "drum": partial(builtin, frame),
        })
        rows.append([name, f"{size:,}", f"{t['score'] / t['drum']:.2f}", f"{t['spinning'] / t['drum']:.2f}"])
    report.lines += ["Where `score()` trailed DRUM, measured again with a second plan whose session spins as "
                     "onnxruntime's does by default (`DR_ONNX_SPIN_MICROSECONDS=0`):", ""]
    report.table(["model", "rows", "score/DRUM", "score/DRUM, unbounded spinning"], rows)
    plan, predictor = plans["logreg"], ONNXPredictor()
    session = predictor.load_model_from_artifact(str(models["logreg"] / "model.onnx"))
    choice = plan.choice("binary")
    steps = []
    for size in (100, 10_000):
        frame = frames[size]
        values = plan.runner(plan.feed(frame), choice.fetch).reshape(size, -1)
        columns = plan.columns("binary", (NEGATIVE, POSITIVE), values.shape[1], choice)
        predictions, _ = predictor.predict(frame, session, **KWARGS)
        t = medians({
            "ours": partial(probability_frame, values, columns, choice.name, True, frame, choice.transform),
            "drum": partial(marshal_predictions, [POSITIVE, NEGATIVE], predictions, TargetType.BINARY),
        })
        steps.append(f"{ms(t['ours'])} against {ms(t['drum'])} ms at {row_count(size)}")
    report.notes.append(
        "score / DRUM built-in, where above 1.0 (table at the end of the in-process section): (1) DRUM's "
        "session spins its pool threads for tens of milliseconds after each run (onnxruntime's default); "
        "ours spins up to 250 us. Back-to-back calls in one process find DRUM's threads still spinning, which "
        "favours it on the multi-threaded models (forest, MLP); the last column spins as DRUM's does. "
        "Served over HTTP, that spinning buys little and costs CPU (Defaults). (2) After the run, ours "
        "builds the probability frame (frame.py: float64 copy, "
        "checks, clip, renormalisation, DataFrame) where DRUM's `marshal_predictions` only checks: "
        + "; ".join(steps)
        + ", the frame's fresh float64 arrays adding allocation on top (profile section)."
    )
