"""Section "Profile: score() step by step, logistic regression".

Where ``score()``'s time goes for the cheapest model, where the package's own overhead shows most:
each step ``ModelPlan.predict`` takes (feed, run, frame), timed separately, and the frame's
alternatives that ``frame.py`` chose between. Says what bounds a missed "score / floor" target.
"""


from functools import partial

import numpy as np
import pandas as pd

from dr_onnx_hooks import score
from dr_onnx_hooks.frame import probability_frame
from dr_onnx_hooks.plan import ModelPlan

from .harness import KWARGS, NEGATIVE, POSITIVE, SIZES, Report, medians, ms


def profile(report: Report, plans: dict[str, ModelPlan], frames: dict[int, pd.DataFrame]) -> None:
    report.heading(
        "Profile: score() step by step, logistic regression",
        "Milliseconds per call (median) of each step `ModelPlan.predict` takes, called separately.",
    )
    plan = plans["logreg"]
    choice = plan.choice("binary")
    rows = []
    for size in SIZES:
        frame = frames[size]
        feeds = plan.feed(frame)
        raw = plan.runner(feeds, choice.fetch)
        values = raw.reshape(size, -1)
        columns = plan.columns("binary", (NEGATIVE, POSITIVE), values.shape[1], choice)
        t = medians({
            "score": partial(score, frame, plan, **KWARGS),
            "feed": partial(plan.feed, frame),
            "run": partial(plan.runner, feeds, choice.fetch),
            "frame": partial(probability_frame, values, columns, choice.name, True, frame, choice.transform),
        })
        rest = t["score"] - t["feed"] - t["run"] - t["frame"]
        rows.append([f"{size:,}", ms(t["score"]), ms(t["feed"]), ms(t["run"]), ms(t["frame"]), ms(max(rest, 0.0))])
        report.row(rows[-1])
    report.table(
        ["rows", "score", "feed (inputs.py)", "run (run.py)", "frame (frame.py)", "rest (allocation, glue)"], rows
    )
    probabilities = values.astype(np.float64)
    names = [str(c) for c in columns.names]
    index = pd.Index(names, dtype=object)
    ones = np.ones((probabilities.shape[1], 1))
    t = medians({
        "sum": lambda: probabilities.sum(axis=1, keepdims=True),
        "matmul": lambda: probabilities @ ones,
        "frame": lambda: pd.DataFrame(probabilities, columns=names),
        "indexed": lambda: pd.DataFrame(probabilities, columns=index, copy=False),
    })
    report.lines += [
        f"frame.py alternatives, on the same {size:,} x {probabilities.shape[1]} float64 probabilities (ms): row sums "
        f"`.sum(axis=1)` {ms(t['sum'])} against `@ np.ones((width, 1))` {ms(t['matmul'])}; "
        f"`pd.DataFrame(values, columns=[...])` {ms(t['frame'])} (pandas 3 copies the array and infers a string "
        f"index) against a `pd.Index` built once per label set with `copy=False` {ms(t['indexed'])}.",
        "",
    ]
    if report.missed("score / floor"):
        shares = ", ".join(
            f"{float(row[4]) / float(row[1]):.0%} at {row[0]} rows"
            for size, row in zip(SIZES, rows, strict=True) if size >= 10_000
        )
        report.notes.append(
            "score / floor, where above 1.2: the floor is the cast, the run and a frame of the tensor as it "
            "came; `score()` adds what DRUM's strict validation needs (frame.py: NaN and range checks, the "
            "float64 copy, row sums, clip and renormalise where needed) and the input checks (inputs.py): "
            f"frame.py takes {shares} of the logistic regression's `score()` in the profile section, measured "
            "apart. Models that compute more per row (forest, MLP) meet the target; the cheaper the model, the "
            "larger this fixed share."
        )
