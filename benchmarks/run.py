"""Benchmark of dr_onnx_hooks against the bare onnxruntime call and DRUM 1.18.1's built-in ONNX path.

    .venv/bin/python benchmarks/run.py [--output docs/benchmarks.md] [--quick]

Builds its models (``harness.build_models``) and measures, in this one run, one module per
section of the report:

* ``in_process``: ``score()`` against the floor (a hand-written hook on the same session) and against
  DRUM's built-in path on DRUM's own session, and what bounds it where it trails;
* ``zipmap``: ZipMap exports against their ``zipmap=False`` twins;
* ``steps``: ``score()`` step by step (feed / run / frame) for the cheapest model;
* ``chunks``: the row-chunk sweep behind ``DR_ONNX_CHUNK_ROWS``'s default;
* ``memory``: peak RSS growth on 1M rows and the first ``score()`` call, in fresh subprocesses;
* ``server``: real ``drum server``s with our hooks and with DRUM's predictor.

In-process plans load with the package's default settings, built as ``Settings`` objects
(``harness.default_settings``, varied with ``dataclasses.replace``), whatever this shell has set;
the servers run with ``drum_helpers.clean_env``. The targets, the figures and what bounds each
miss are written to docs/benchmarks.md, the one place measured figures live. Exits non-zero only
on an error, never on a timing.
"""

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The one place the import path is set: the `benchmarks` package from the repository root (not
# this folder, whose module names must not shadow others'), and tests/ for the test suite's model
# builders (models.py) and drum server helpers (drum_helpers.py, helpers.py), which the benchmark reuses.
sys.path[:] = [str(HERE.parent), str(HERE.parent / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

from benchmarks.chunks import chunk_sweep  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    ROOT,
    SIZES,
    Report,
    build_models,
    default_settings,
    frame_of,
    machine,
    warm_up,
)
from benchmarks.in_process import in_process  # noqa: E402
from benchmarks.memory import memory, probe_memory  # noqa: E402
from benchmarks.server import server  # noqa: E402
from benchmarks.steps import profile  # noqa: E402
from benchmarks.zipmap import zipmap  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="fewer server requests (a smoke run)")
    parser.add_argument("--probe-memory", nargs=2, metavar=("MODEL_DIR", "ROWS"), help=argparse.SUPPRESS)
    parser.add_argument("--chunk-rows", type=int, help=argparse.SUPPRESS)  # with --probe-memory
    args = parser.parse_args(argv)
    if args.probe_memory:
        probe_memory(args.probe_memory[0], int(args.probe_memory[1]), args.chunk_rows)
        return 0
    started, head = time.time(), machine()
    settings = default_settings()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="dr-onnx-bench-") as tmp:
        workdir = Path(tmp)
        models = build_models(workdir / "models")
        frames = {size: frame_of(size) for size in SIZES}
        warm_up(models["logreg"], settings)
        plans = in_process(report, models, frames, settings)
        zipmap(report, models, frames, plans, settings)
        profile(report, plans, frames)
        chunk_sweep(report, models, settings)
        first_calls = memory(report, models)
        server(report, models, workdir, 100 if args.quick else 300, first_calls)
    report.write(args.output, started, head)
    return 0


if __name__ == "__main__":
    sys.exit(main())
