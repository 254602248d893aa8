"""Scoring a Spark DataFrame by the contract ``drum score`` follows: ``predict(df, model, target_type, ...)``.

::

    from dr_onnx_hooks.spark import predict
    scored = predict(df, "model_folder", "binary", positive_class_label="yes", negative_class_label="no")

returns ``df`` with the prediction columns appended, named as ``drum score`` names them
(``Predictions``; a column per class label), each a double.

* **On the driver** the model is loaded by ``ModelPlan.load`` with the environment's settings, and
  zero rows go through ``ModelPlan.predict``: a model that cannot be loaded or cannot serve the
  target, missing labels, or a column the model needs and the DataFrame lacks fail there, with the
  package's message, before any job runs. That run also gives the prediction columns' names.
* **Shipping**: the model file and its external-data files are read once on the driver and sent
  to the executors once, as a broadcast variable (inline with the function under Spark Connect,
  which has no broadcasts).
* **On the executors** (``mapInArrow``: Arrow batches in, Arrow batches out, no pandas conversion
  by Spark): each Python worker loads the model once, keyed by the digest of its files, and keeps
  that ``ModelPlan`` for every later batch and task. Its session gets ``spark.task.cpus`` intra-op
  threads (``TaskContext.cpus``): an executor with C cores runs C / ``spark.task.cpus`` tasks at
  once, each in its own Python worker, so the workers share the executor's cores, not the host's.
  Spark's Arrow batches are gathered into chunks of ``batch.DEFAULT_CHUNK_ROWS`` rows, with no
  short tail (``batch.rechunk``: a small run rounds differently), and each chunk goes through the
  same ``ModelPlan.predict`` as ``hooks.score``: no second implementation of the output, label or
  cast rules.
* **Columns fed**: as ``drum score``: a model with one input reads every column in order, a model
  with several reads its columns by name. ``features`` limits what a one-input model is given (an
  id column is kept in the result, not fed).
* **Errors** in a batch name the partition and the row within it (counted from 1).

pyspark is an optional extra (``pip install "dr-onnx-hooks[spark]"``) and is imported only when
``predict`` is called: the package itself imports without it. The executors need this package
installed (or shipped with ``--py-files``), as they need onnxruntime and pyarrow.
"""

import functools
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from .artifact import read_graph
from .batch import DEFAULT_CHUNK_ROWS, in_rows, plan_columns, prediction_columns, rechunk
from .errors import DrOnnxError, InputError
from .graph import external_data_files
from .inspect import model_file
from .labels import request_labels
from .plan import ModelPlan
from .settings import Settings
from .targets import CLASS_TARGETS
from .targets import target_type as resolve_target_type

WHERE = "the DataFrame"


@dataclass(frozen=True)
class ScoringJob:
    """What every batch needs besides the model's files (small: sent with the function)."""

    digest: str  # of the model's files: the key of the worker's plan
    model_name: str
    settings: Settings
    target: str
    labels: tuple[str, ...]
    features: tuple[str, ...]  # the columns given to ``predict``
    predicted: tuple[str, ...]  # the prediction columns, in the order appended


@dataclass(frozen=True)
class Inline:
    """The model's files sent with the function, where there is no broadcast (Spark Connect)."""

    value: dict[str, bytes]


def model_files(path: Path) -> dict[str, bytes]:
    """The ``.onnx`` file and every external-data file its graph references, by name relative to its folder."""
    names = [path.name, *external_data_files(read_graph(path))]
    return {name: (path.parent / name).read_bytes() for name in dict.fromkeys(names)}


def files_digest(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{len(files[name])}\0".encode())
        digest.update(files[name])
    return digest.hexdigest()


def predict(
    df: Any,
    model: str | Path,
    target_type: str,
    positive_class_label: str | None = None,
    negative_class_label: str | None = None,
    class_labels: Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> Any:
    """``df`` (a ``pyspark.sql.DataFrame``) with the prediction columns of ``model`` (a model folder or
    an ``.onnx`` file on the driver) appended, named and valued as ``drum score`` gives them.

    ``features``: the columns a one-input model reads, in order (default: every column of ``df``).
    ``settings`` default to the driver's environment (``Settings.read``); the executors use the same.
    Raises ``DrOnnxError`` on the driver when the model cannot serve this DataFrame.
    """
    from pyspark.sql.types import DoubleType, StructField, StructType

    job, shipped = prepare(
        df, model, target_type, positive_class_label, negative_class_label, class_labels, features, settings
    )
    schema = StructType([*df.schema.fields, *(StructField(p, DoubleType(), True) for p in job.predicted)])
    return df.mapInArrow(functools.partial(score_batches, job, shipped), schema)


def prepare(
    df: Any,
    model: str | Path,
    target_type: str,
    positive_class_label: str | None = None,
    negative_class_label: str | None = None,
    class_labels: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> tuple["ScoringJob", Any]:
    """``predict``'s work on the driver: the model loaded and checked against ``df``'s columns, what
    every batch needs, and the model's files shipped (a broadcast, else ``Inline``)."""
    settings = replace(settings or Settings.read(), target_type=str(target_type).lower())
    path = model_file(Path(model))
    plan = ModelPlan.load(path, settings)
    kwargs = {
        "target_type": settings.target_type, "positive_class_label": positive_class_label,
        "negative_class_label": negative_class_label, "class_labels": list(class_labels or ()) or None,
    }  # as DRUM passes them to ``score``
    target = resolve_target_type(kwargs, settings.target_type)
    labels = request_labels(target, kwargs) if target in CLASS_TARGETS else ()
    names = list(df.columns)
    if features is not None:
        unknown = [f for f in features if f not in names]
        if unknown:
            raise InputError(f"{WHERE}: features names {unknown}, which it does not have; its columns: {names}.")
    kept = [n for n in names if n not in features] if features is not None else []
    columns = plan_columns(plan.feed, names, kept, WHERE)
    predicted = prediction_columns(plan, columns, target, labels, WHERE)
    clash = [p for p in predicted if p.casefold() in {n.casefold() for n in names}]
    if clash:
        raise InputError(
            f"{WHERE} already has column(s) {clash}, the names of the predictions: rename or drop them first."
        )
    files = model_files(plan.path)
    job = ScoringJob(
        digest=files_digest(files), model_name=plan.path.name,
        settings=replace(settings, session=replace(settings.session, optimized_model_dir=None)),
        target=target, labels=tuple(labels), features=columns.features, predicted=tuple(predicted),
    )
    try:
        shipped: Any = df.sparkSession.sparkContext.broadcast(files)
    except Exception:  # Spark Connect: no SparkContext, so no broadcast
        shipped = Inline(files)
    return job, shipped


# --- on the executors --------------------------------------------------------------------------

_PLANS: dict[tuple[str, int], ModelPlan] = {}  # one per model and thread count, for the worker's life
_LOCK = threading.Lock()


def _task_threads() -> int:
    """The cores this task may use: ``spark.task.cpus`` (1 outside a task)."""
    from pyspark import TaskContext

    context = TaskContext.get()
    cpus = context.cpus() if context is not None else None
    return max(1, int(cpus or 1))


def worker_plan(job: ScoringJob, shipped: Any) -> ModelPlan:
    """This worker's plan for ``job``'s model: loaded from the shipped files the first time, then reused."""
    threads = _task_threads()
    key = (job.digest, threads)
    with _LOCK:
        plan = _PLANS.get(key)
        if plan is None:
            folder = Path(tempfile.mkdtemp(prefix="dr-onnx-model-"))
            try:
                for name, data in shipped.value.items():
                    (folder / name).parent.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_bytes(data)
                settings = replace(job.settings, session=replace(job.settings.session, intra_op_threads=threads))
                plan = ModelPlan.load(folder / job.model_name, settings)
            finally:
                shutil.rmtree(folder, ignore_errors=True)  # the session holds the model now
            _PLANS[key] = plan
    return plan


def score_batches(job: ScoringJob, shipped: Any, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``'s function: each batch with the prediction columns appended."""
    from pyspark import TaskContext

    plan = worker_plan(job, shipped)
    context = TaskContext.get()
    where = f"partition {context.partitionId() if context is not None else '?'}"
    features = list(job.features)
    for start, table in rechunk(batches, DEFAULT_CHUNK_ROWS):
        frame = table.select(features).to_pandas(use_threads=False)  # arrow's pool costs 15x on small chunks
        try:
            predictions = plan.predict(frame, job.target, job.labels)
        except DrOnnxError as exc:
            raise in_rows(exc, where, start, table.num_rows) from exc
        arrays = [*table.columns, *(pa.array(predictions[p].to_numpy(), type=pa.float64()) for p in job.predicted)]
        yield from pa.Table.from_arrays(arrays, names=[*table.schema.names, *job.predicted]).to_batches()
