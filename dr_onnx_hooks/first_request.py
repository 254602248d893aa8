"""The whole request path run once at load, so a worker's first real request is not its slowest.

``warmup`` warms onnxruntime; the rest of a request is cold too on its first call: our reader
(pandas' CSV parser, ``json``, pyarrow's IPC reader), ``score`` (feed, run, labels, frame) and
what DRUM does with the frame (``marshal_predictions``, ``DataFrame.to_json``). Two made-up rows
(zeros, ``"0"`` for text) are sent through each format and each target kind the model serves,
with the graph's labels (or made-up ones). Nothing is kept: the frames are dropped, and the only
state touched is the plan's cache of column namings, keyed by the labels, which real requests
never send as made up here. Best effort: a model the made-up rows do not suit (a symbolic width,
an input that refuses zeros), or whose warm-up run did not finish within ``MAX_RUN_SECONDS``, is
left cold, with a debug log.
"""

import io
import json
import logging
import time

import pandas as pd
import pyarrow as pa
import pyarrow.ipc

from .graph import Labels
from .plan import ModelPlan
from .reading import RequestReader

logger = logging.getLogger(__name__)

ROWS = 2
MAX_RUN_SECONDS = 0.2  # a slower model dominates its requests: warming the rest would only delay the start


def warm_request_path(plan: ModelPlan, reader: RequestReader) -> None:
    """Read, score and encode made-up rows as a request would be; skip quietly what does not fit."""
    if plan.warm_seconds is None or plan.warm_seconds > MAX_RUN_SECONDS:
        logger.debug("Request path not warmed: the model's warm-up run did not finish quickly.")
        return
    start = time.perf_counter()
    columns = _column_names(plan)
    if columns is None:
        logger.debug("Request path not warmed: an input's width is not fixed.")
        return
    frame = pd.DataFrame({name: ["0"] * ROWS for name in columns})
    warmed = []
    for body in _bodies(frame):
        for target, labels in _targets(plan, reader(body)):
            try:
                _encode(plan.predict(reader(body), target, labels), target, labels)
                warmed.append(target)
            except Exception as exc:  # made-up rows only: the real requests will say what is wrong
                logger.debug("Request path not warmed for %s: %s", target, exc)
    if warmed:
        logger.debug("Request path warmed in %.1f ms (%s)", (time.perf_counter() - start) * 1e3, ", ".join(set(warmed)))


def _column_names(plan: ModelPlan) -> list[str] | None:
    feed = plan.feed
    if feed.by_name:
        return [name for names in feed.columns.values() for name in names]
    width = feed.inputs[0].width
    return [f"f{i}" for i in range(width)] if width else None


def _bodies(frame: pd.DataFrame) -> list[bytes]:
    sink = io.BytesIO()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    records = json.dumps(frame.to_dict(orient="records")).encode()
    return [frame.to_csv(index=False).encode(), records, sink.getvalue()]


def _targets(plan: ModelPlan, frame: pd.DataFrame) -> list[tuple[str, Labels]]:
    """The target kinds the plan serves, each with labels that fit its output."""
    targets: list[tuple[str, Labels]] = []
    for target in ("regression", "multiclass"):
        try:
            choice = plan.choice(target)
            width = plan.runner(plan.feed(frame), choice.fetch).reshape(len(frame), -1).shape[1]
        except Exception:  # a kind the model does not serve, or rows it does not take
            continue
        if target == "regression":
            targets.append((target, ()))
            continue
        found = choice.labels.labels if choice.labels and len(choice.labels.labels) == max(width, 2) else None
        labels = found or tuple(str(i) for i in range(max(width, 2)))
        targets.append(("binary" if len(labels) == 2 else "multiclass", labels))
    return targets


def _encode(predictions: pd.DataFrame, target: str, labels: Labels) -> None:
    """What DRUM does with the frame: marshal it against the labels, then JSON records."""
    from datarobot_drum.drum.data_marshalling import marshal_predictions
    from datarobot_drum.drum.enum import TargetType

    marshalled = marshal_predictions(
        list(labels) or None, predictions.to_numpy(), TargetType(target), list(predictions.columns) if labels else None
    )
    marshalled.to_json(orient="records")
