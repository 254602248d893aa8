"""The onnxruntime session, created with explicit providers, threads and optimisation level.

Its settings (environment variable or runtime parameter of the same name, read once at load into
``SessionSettings``, part of the package's ``Settings``):

* ``DR_ONNX_PROVIDERS``: comma-separated execution providers, CPU by default. A provider this
  onnxruntime build or machine does not have (CUDA on a CPU-only image) is dropped with a
  warning, falling back to CPU; a name onnxruntime does not know at all is an error.
* ``DR_ONNX_INTRA_OP_THREADS``: threads that split one operator; by default the container's
  usable CPUs divided among DRUM's server workers (see ``cpus``).
* ``DR_ONNX_INTER_OP_THREADS``: operators run side by side (default 1, i.e. sequential
  execution; more switches onnxruntime to its parallel executor).
* ``DR_ONNX_ALLOW_SPINNING`` (on by default) and ``DR_ONNX_SPIN_MICROSECONDS`` (250 by default;
  0: onnxruntime's own, unbounded): whether a pool thread that runs out of work busy-waits for
  more before it sleeps, and for how long. A thread woken from sleep costs tens of microseconds
  at every parallel section of every operator; spinning briefly removes that within a run and
  between the row chunks of one request (a tree ensemble gains most), while the bound keeps the
  CPU burnt after a request to a fraction of a millisecond.
  onnxruntime's own spinning, DRUM's default, keeps a thread busy for tens of milliseconds after
  every run: a served model with requests a few milliseconds apart keeps a CPU busy, CPU that
  counts against the container's quota (figures in docs/benchmarks.md). Spinning needs more
  than one intra-op thread; with one per worker (the default when workers fill the CPUs) there
  is no pool to spin.
* ``DR_ONNX_GRAPH_OPTIMIZATION``: disable, basic, extended or all (default).
* ``DR_ONNX_OPTIMIZED_MODEL_PATH``: a folder. The optimised model is saved there, named by a
  digest of the model, the optimisation level, the providers and the onnxruntime version, and
  later loads read it back instead of optimising again. A changed model gets a new name, so a
  stale file is never used. Nothing is cached when unset.
"""

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from .cpus import CGROUP_ROOT, default_intra_op_threads
from .errors import DrOnnxError, ModelError
from .params import Environ, read_bool, read_choice, read_int, read_setting

logger = logging.getLogger(__name__)

PROVIDERS_SETTING = "DR_ONNX_PROVIDERS"
INTRA_OP_SETTING = "DR_ONNX_INTRA_OP_THREADS"
INTER_OP_SETTING = "DR_ONNX_INTER_OP_THREADS"
SPINNING_SETTING = "DR_ONNX_ALLOW_SPINNING"
SPIN_SETTING = "DR_ONNX_SPIN_MICROSECONDS"
OPTIMIZATION_SETTING = "DR_ONNX_GRAPH_OPTIMIZATION"
OPTIMIZED_MODEL_SETTING = "DR_ONNX_OPTIMIZED_MODEL_PATH"

CPU = "CPUExecutionProvider"
EXTERNAL_DATA_FOLDER = "session.model_external_initializers_file_folder_path"
DEFAULT_SPINNING = True
DEFAULT_SPIN_MICROSECONDS = 250
OPTIMIZATION_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}

Model = Path | bytes  # a model file, or a serialised copy of it


def providers(environ: Environ = os.environ) -> tuple[str, ...]:
    """Execution providers from ``DR_ONNX_PROVIDERS`` that this onnxruntime can use; CPU when none can."""
    wanted = read_setting(PROVIDERS_SETTING, environ)
    names = [p.strip() for p in wanted.split(",") if p.strip()] if wanted else [CPU]
    unknown = [p for p in names if p not in ort.get_all_providers()]
    if unknown:
        raise ModelError(
            f"{PROVIDERS_SETTING} names {', '.join(unknown)}, which onnxruntime does not know; "
            f"available here: {', '.join(ort.get_available_providers())}."
        )
    available = [p for p in names if p in ort.get_available_providers()]
    if len(available) < len(names):
        missing = [p for p in names if p not in available]
        logger.warning(
            "%s asks for %s, which this onnxruntime build does not have (available: %s); using %s instead.",
            PROVIDERS_SETTING, ", ".join(missing), ", ".join(ort.get_available_providers()),
            ", ".join(available or [CPU]),
        )
    return tuple(available or [CPU])


@dataclass(frozen=True)
class SessionSettings:
    """Everything a session is created with, read once from the settings."""

    providers: tuple[str, ...]
    intra_op_threads: int
    inter_op_threads: int
    allow_spinning: bool
    spin_microseconds: int  # 0: onnxruntime's own bound
    optimization: str
    optimized_model_dir: Path | None

    @classmethod
    def read(cls, environ: Environ = os.environ, cgroup_root: Path = CGROUP_ROOT) -> "SessionSettings":
        intra = read_int(INTRA_OP_SETTING, environ=environ)
        optimized = read_setting(OPTIMIZED_MODEL_SETTING, environ)
        return cls(
            providers=providers(environ),
            intra_op_threads=intra if intra is not None else default_intra_op_threads(cgroup_root, environ),
            inter_op_threads=read_int(INTER_OP_SETTING, 1, environ=environ),
            allow_spinning=read_bool(SPINNING_SETTING, DEFAULT_SPINNING, environ),
            spin_microseconds=read_int(SPIN_SETTING, DEFAULT_SPIN_MICROSECONDS, minimum=0, environ=environ),
            optimization=read_choice(OPTIMIZATION_SETTING, tuple(OPTIMIZATION_LEVELS), "all", environ),
            optimized_model_dir=Path(optimized) if optimized else None,
        )

    def options(self) -> ort.SessionOptions:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = self.inter_op_threads
        if self.inter_op_threads > 1:  # the sequential executor never uses inter-op threads
            options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
        spinning = "1" if self.allow_spinning else "0"
        for pool in ("intra_op", "inter_op"):
            options.add_session_config_entry(f"session.{pool}.allow_spinning", spinning)
            if self.allow_spinning and self.spin_microseconds:
                options.add_session_config_entry(f"session.{pool}.spin_duration_us", str(self.spin_microseconds))
        options.graph_optimization_level = OPTIMIZATION_LEVELS[self.optimization]
        return options

    def describe(self) -> str:
        return (
            f"providers {', '.join(self.providers)}; threads {self.intra_op_threads} intra-op, "
            f"{self.inter_op_threads} inter-op; spinning {self._spinning()}; "
            f"graph optimisation {self.optimization}"
        )

    def _spinning(self) -> str:
        if not self.allow_spinning:
            return "off"
        return f"up to {self.spin_microseconds} us" if self.spin_microseconds else "on (onnxruntime's bound)"


def create_session(model: Model, path: Path, settings: SessionSettings) -> ort.InferenceSession:
    """An ``InferenceSession`` for the model file ``path``, or for ``model``, a serialised copy of it,
    with onnxruntime's reason on failure. External data always resolves against ``path``'s folder."""
    display_name = path.name
    try:
        if settings.optimized_model_dir:
            session = _through_cache(model, path, settings, settings.optimized_model_dir)
        else:
            session = _session(model, _options(settings, path), settings.providers)
    except DrOnnxError:
        raise
    except Exception as exc:
        raise ModelError(
            f"onnxruntime cannot load {display_name}: {type(exc).__name__}: {exc}"
        ) from exc
    active = session.get_providers()
    if active[0] != settings.providers[0]:
        logger.warning(
            "onnxruntime could not start %s for %s; running on %s.", settings.providers[0], display_name, active
        )
    return session


def _session(model: Model, options: ort.SessionOptions, provider_names: tuple[str, ...]) -> ort.InferenceSession:
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=list(provider_names))


def _options(settings: SessionSettings, path: Path) -> ort.SessionOptions:
    """``settings``' options, with ``path``'s folder as the base of external data: a model loaded from
    bytes would otherwise resolve it against the working folder."""
    options = settings.options()
    options.add_session_config_entry(EXTERNAL_DATA_FOLDER, str(path.resolve().parent))
    return options


def _through_cache(model: Model, path: Path, settings: SessionSettings, folder: Path) -> ort.InferenceSession:
    """The session, loaded from the cached optimised model when there is one, else optimised and saved.

    A write goes to a temporary name and is renamed into place, so server workers that start
    together never read a half-written file. A folder that cannot be written is logged and skipped.
    """
    display_name = path.name
    data = model.read_bytes() if isinstance(model, Path) else model
    key = hashlib.sha256(data)
    key.update(f"|{settings.optimization}|{','.join(settings.providers)}|{ort.__version__}".encode())
    cached = folder / f"{Path(display_name).stem}.{key.hexdigest()[:24]}.onnx"
    options = _options(settings, path)
    if cached.is_file():
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # optimised already
        logger.info("Loading the optimised %s from %s", display_name, cached)
        return _session(cached, options, settings.providers)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        logger.warning("Cannot write the optimised %s to %s; serving without saving it.", display_name, folder)
        return _session(model, options, settings.providers)
    partial = folder / f".{cached.name}.{os.getpid()}.partial"
    options.optimized_model_filepath = str(partial)
    try:
        session = _session(model, options, settings.providers)
        os.replace(partial, cached)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("Saved the optimised %s as %s", display_name, cached)
    return session
