"""Section "Row chunk size (DR_ONNX_CHUNK_ROWS)": the sweep behind the setting's default.

``score()`` on a large request with plans whose ``Settings.chunk_rows`` differ, the largest being
one unchunked run. The peak-memory section shows the other side: what chunking bounds.
"""

from dataclasses import replace
from functools import partial
from pathlib import Path

from dr_onnx_hooks import score
from dr_onnx_hooks.settings import CHUNK_ROWS_SETTING, DEFAULT_CHUNK_ROWS, Settings

from .harness import KWARGS, Report, Timer, frame_of, load_plan, medians, ms

ROWS = 200_000


def chunk_sweep(report: Report, models: dict[str, Path], settings: Settings, rows: int = ROWS) -> None:
    report.heading(
        f"Row chunk size ({CHUNK_ROWS_SETTING}), {rows:,} rows",
        f"Milliseconds per `score()` call (median); the default is {DEFAULT_CHUNK_ROWS:,}.",
    )
    frame = frame_of(rows, seed=3)
    sizes = sorted({8_192, DEFAULT_CHUNK_ROWS, 131_072, rows})
    table, versus = [], []
    for name in ("mlp", "logreg"):
        candidates: dict[str, Timer] = {}
        for size in sizes:
            plan = load_plan(models[name], replace(settings, chunk_rows=size))
            candidates[f"{size:,}" if size < rows else "unchunked"] = partial(score, frame, plan, **KWARGS)
        t = medians(candidates, rounds=3)
        table.append([name] + [ms(v) for v in t.values()])
        versus.append(f"{name} {t[f'{DEFAULT_CHUNK_ROWS:,}'] / t['unchunked']:.2f}x")
        report.row(table[-1])
    report.table(["model"] + list(candidates), table)
    report.defaults.append(
        f"`{CHUNK_ROWS_SETTING}` = {DEFAULT_CHUNK_ROWS:,}: in slices of that size `score()` on {rows:,} rows took "
        f"{', '.join(versus)} the time of one run (chunk table; slices that stay in cache help the MLP's hidden "
        f"layers most), and onnxruntime's intermediate tensors stay bounded (peak RSS table: the MLP unchunked "
        f"against chunked)."
    )
