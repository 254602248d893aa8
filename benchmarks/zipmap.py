"""Section "ZipMap export against its zipmap=False twin, both through score()".

skl2onnx's default ZipMap output (a list of per-row dicts) is read from the float tensor that
feeds it; this compares such an export against the same model exported with ``zipmap=False``.
"""

from functools import partial
from pathlib import Path

import pandas as pd

from dr_onnx_hooks import score
from dr_onnx_hooks.plan import ModelPlan
from dr_onnx_hooks.settings import Settings

from .harness import KWARGS, SIZES, Report, load_plan, medians, ms, row_count


def zipmap(
    report: Report, models: dict[str, Path], frames: dict[int, pd.DataFrame], plans: dict[str, ModelPlan],
    settings: Settings,
) -> None:
    report.heading("ZipMap export against its zipmap=False twin, both through score()")
    rows = []
    for name in ("forest", "logreg"):
        zipped = load_plan(models[f"{name}+zipmap"], settings)
        for size in SIZES:
            frame = frames[size]
            t = medians({
                "zipmap": partial(score, frame, zipped, **KWARGS),
                "plain": partial(score, frame, plans[name], **KWARGS),
            })
            rows.append([name, f"{size:,}", ms(t["zipmap"]), ms(t["plain"]), f"{t['zipmap'] / t['plain']:.2f}"])
            report.row(rows[-1])
            report.target(f"{name}: ZipMap / no-ZipMap at {row_count(size)}", t["zipmap"] / t["plain"], 1.2)
    report.table(["model", "rows", "ZipMap ms", "no-ZipMap ms", "ratio"], rows)
