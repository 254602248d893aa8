"""Section "Peak RSS while scoring 1,000,000 rows, and the first score() call".

Each case runs in a fresh subprocess (``run.py --probe-memory``, so nothing this process
allocated counts): the peak resident memory above the level before ``score()``, reset through
``/proc/self/clear_refs``, over the input frame's size; and a fresh plan's first 1-row
``score()`` after load and warm-up against the steady median. The subprocess loads with the
package's default settings; only ``chunk_rows`` is passed, on its command line.
"""

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from dr_onnx_hooks import score

from .harness import KWARGS, Report, default_settings, frame_of, load_plan, ms

MEMORY_ROWS = 1_000_000
RUN = Path(__file__).resolve().parent / "run.py"


def probe_memory(model_dir: str, rows: int, chunk_rows: int | None) -> None:
    """Subprocess mode: peak RSS growth of one ``score()`` on ``rows`` rows, and first vs steady call, as JSON."""
    def status(key: str) -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

    settings = default_settings()
    if chunk_rows is not None:
        settings = replace(settings, chunk_rows=chunk_rows)
    plan = load_plan(Path(model_dir), settings)
    one = frame_of(1, seed=5)
    start = time.perf_counter()
    score(one, plan, **KWARGS)
    first = time.perf_counter() - start
    steady = []
    for _ in range(200):
        start = time.perf_counter()
        score(one, plan, **KWARGS)
        steady.append(time.perf_counter() - start)
    frame = frame_of(rows, seed=4)
    score(frame.iloc[:1000], plan, **KWARGS)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    before = status("VmRSS")
    out = score(frame, plan, **KWARGS)
    assert len(out) == rows
    print(json.dumps({
        "frame": int(frame.memory_usage(index=True).sum()), "growth": status("VmHWM") - before,
        "first": first, "steady": float(np.median(steady)),
    }))


def memory(report: Report, models: dict[str, Path]) -> dict[str, dict]:
    """The section; returns each case's result, which the server section's notes quote."""
    report.heading(
        f"Peak RSS while scoring {MEMORY_ROWS:,} rows, and the first score() call",
        "Each in a fresh subprocess: the peak resident memory above the level before `score()`, over the input "
        "frame's size; and a fresh plan's first 1-row `score()` (after load and warm-up) over the steady median.",
    )
    results, rows = {}, []
    cases: list[tuple] = [("logreg", None), ("forest", None), ("mlp", None), ("mlp", 10 * MEMORY_ROWS)]
    for name, chunk_rows in cases:
        label = name + (" (unchunked)" if chunk_rows else "")
        command = [sys.executable, str(RUN), "--probe-memory", str(models[name]), str(MEMORY_ROWS)]
        if chunk_rows:
            command += ["--chunk-rows", str(chunk_rows)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=240)
        if done.returncode != 0:
            raise RuntimeError(f"memory probe of {label} exited with {done.returncode}:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results[label] = result
        rows.append([label, f"{result['frame'] / 1e6:.0f}", f"{result['growth'] / 1e6:.0f}",
                     f"{result['growth'] / result['frame']:.2f}", ms(result["first"]), ms(result["steady"]),
                     f"{result['first'] / result['steady']:.1f}"])
        report.row(rows[-1])
        if not chunk_rows:
            growth = result["growth"] / result["frame"]
            report.target(f"{name}: peak RSS growth / input frame, {MEMORY_ROWS:,} rows", growth, 1.5)
    header = ["model", "frame MB", "peak growth MB", "growth/frame", "first call ms", "steady ms", "first/steady"]
    report.table(header, rows)
    return results
