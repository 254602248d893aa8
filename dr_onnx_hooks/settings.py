"""Every setting of the package, read once when the model loads into one frozen ``Settings``.

``load_model`` reads them from the environment (each as a plain variable or as DataRobot's
``MLOPS_RUNTIME_PARAM_<NAME>``; see ``params``), logs them in one line and passes the object
down: nothing else in the package reads the environment. Code that loads a model itself (the
``inspect`` command, benchmarks, tests) builds a ``Settings`` with ``Settings.read(environ)``
and ``dataclasses.replace``.

========================== ================================================= ==============
setting                    what                                              read by
========================== ================================================= ==============
DR_ONNX_MODEL_DIR          the model folder, instead of DRUM's code dir      ``hooks``
DR_ONNX_OUTPUT             the output to read for every target type          ``outputs``
DR_ONNX_LOGITS             softmax or sigmoid: the class output holds logits ``outputs``
DR_ONNX_CLASS_ORDER        auto, graph or position: how columns get labels   ``labels``
TARGET_TYPE                known at load: a target the model cannot serve    ``plan``
                           fails the load, and requests default to it
DR_ONNX_CHUNK_ROWS         rows per ``session.run`` for large requests       ``run``
DR_ONNX_RUN_TIMEOUT        seconds all of one request's runs may take         ``run``
DR_ONNX_WARMUP_TIMEOUT     seconds the warm-up run at load may take          ``warmup``
DR_ONNX_MAX_BODY_BYTES     a request body's size, refused before parsing     ``flask_ext``
DR_ONNX_LOG_VALUES         on: messages (and so DRUM's log) show cell values ``inputs``
DR_ONNX_MAX_COLUMNS/ROWS/  request limits (cells and body bytes default to   ``reading``
CELLS                      what fits in the container's memory: ``memory``)
DR_ONNX_PROVIDERS,         the onnxruntime session                           ``session``
DR_ONNX_*_THREADS, ...
========================== ================================================= ==============
"""

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .cpus import CGROUP_ROOT
from .memory import MemoryBudget, request_budget
from .params import Environ, read_bool, read_choice, read_int, read_setting
from .reading import CELLS_SETTING, Limits
from .session import SessionSettings

MODEL_DIR_SETTING = "DR_ONNX_MODEL_DIR"
OUTPUT_SETTING = "DR_ONNX_OUTPUT"
LOGITS_SETTING = "DR_ONNX_LOGITS"
LOGITS_FUNCTIONS = ("none", "softmax", "sigmoid")
CLASS_ORDER_SETTING = "DR_ONNX_CLASS_ORDER"
CLASS_ORDERS = ("auto", "graph", "position")
TARGET_TYPE_SETTING = "TARGET_TYPE"
LOG_VALUES_SETTING = "DR_ONNX_LOG_VALUES"
MAX_BODY_SETTING = "DR_ONNX_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 1 << 30  # 1 GiB: above the CSV of the default cell limit (50M cells)
RUN_TIMEOUT_SETTING = "DR_ONNX_RUN_TIMEOUT"
WARMUP_TIMEOUT_SETTING = "DR_ONNX_WARMUP_TIMEOUT"
DEFAULT_WARMUP_TIMEOUT = 30
WORKER_TIMEOUT_SETTING = "DRUM_CLIENT_REQUEST_TIMEOUT"  # DRUM's gunicorn worker timeout (a runtime parameter)
DEFAULT_WORKER_TIMEOUT = 600  # DRUM's default
RUN_SHARE_OF_WORKER_TIMEOUT = 0.9  # answer before gunicorn kills the worker
CHUNK_ROWS_SETTING = "DR_ONNX_CHUNK_ROWS"
DEFAULT_CHUNK_ROWS = 32_768  # measured: docs/benchmarks.md, "Row chunk size"
MIN_CHUNK_ROWS = 1_024  # smaller slices change the kernels onnxruntime picks (see ``run``)


@dataclass(frozen=True)
class Settings:
    """What the environment asks of the hooks; see the module docstring for each setting."""

    model_dir: Path | None
    output: str | None
    logits: str | None  # softmax or sigmoid
    class_order: str  # auto, graph or position
    target_type: str | None  # lower case as set; checked against the target types where it is used
    chunk_rows: int
    run_timeout: float | None  # None: no limit
    warmup_timeout: float | None
    max_body_bytes: int
    show_values: bool  # cell values in messages; off: row, column and the value's kind only
    limits: Limits
    memory: str  # where the memory the limits fit in was read
    session: SessionSettings

    @classmethod
    def read(cls, environ: Environ = os.environ, cgroup_root: Path = CGROUP_ROOT) -> "Settings":
        """All settings from ``environ``; a value that is set but unusable is a ``ModelError`` naming it."""
        model_dir = read_setting(MODEL_DIR_SETTING, environ)
        target = read_setting(TARGET_TYPE_SETTING, environ)
        logits = read_choice(LOGITS_SETTING, LOGITS_FUNCTIONS, "none", environ)
        budget = request_budget(environ, cgroup_root) or MemoryBudget(UNKNOWN_MEMORY, "memory limit unknown")
        return cls(
            model_dir=Path(model_dir) if model_dir else None,
            output=read_setting(OUTPUT_SETTING, environ),
            logits=None if logits == "none" else logits,
            class_order=read_choice(CLASS_ORDER_SETTING, CLASS_ORDERS, "auto", environ),
            target_type=target.lower() if target else None,
            chunk_rows=read_int(CHUNK_ROWS_SETTING, DEFAULT_CHUNK_ROWS, minimum=MIN_CHUNK_ROWS, environ=environ),
            run_timeout=read_int(RUN_TIMEOUT_SETTING, _default_run_timeout(environ), minimum=0, environ=environ)
            or None,
            warmup_timeout=read_int(WARMUP_TIMEOUT_SETTING, DEFAULT_WARMUP_TIMEOUT, minimum=0, environ=environ) or None,
            max_body_bytes=read_int(
                MAX_BODY_SETTING, min(DEFAULT_MAX_BODY_BYTES, budget.body_bytes()), environ=environ
            ),
            show_values=read_bool(LOG_VALUES_SETTING, False, environ),
            limits=_fitted(Limits.read(environ), budget, environ),
            memory=budget.source,
            session=SessionSettings.read(environ, cgroup_root),
        )

    def describe(self) -> str:
        """One line for the load log."""
        limits = self.limits
        return (
            f"output {self.output or '(by the contract)'}; logits {self.logits or 'no'}; "
            f"class order {self.class_order}; target type {self.target_type or '(per request)'}; "
            f"chunks of {self.chunk_rows} rows; run timeout {self.run_timeout or 'none'} s, warm-up timeout "
            f"{self.warmup_timeout or 'none'} s; cell values {'shown' if self.show_values else 'hidden'} in messages; "
            f"bodies up to {self.max_body_bytes} bytes; limits {limits.columns} columns, {limits.rows} rows, "
            f"{limits.cells} cells ({self.memory}), {limits.cell_bytes} bytes a cell; {self.session.describe()}"
        )


def _default_run_timeout(environ: Environ) -> int:
    """Most of DRUM's worker timeout (0 there: none here either), so a slow run is answered, not killed."""
    worker = read_int(WORKER_TIMEOUT_SETTING, DEFAULT_WORKER_TIMEOUT, minimum=0, environ=environ)
    return int(worker * RUN_SHARE_OF_WORKER_TIMEOUT)


UNKNOWN_MEMORY = 2**62  # no limit found: the fixed defaults apply


def _fitted(limits: Limits, budget: MemoryBudget, environ: Environ) -> Limits:
    """``limits`` with the cell limit lowered to what fits in a worker's memory, unless set explicitly."""
    if read_setting(CELLS_SETTING, environ) is not None:
        return limits
    return replace(limits, cells=min(limits.cells, budget.cells()))
