"""What every section shares: the models and frames, the settings plans load with, the timing
loop, and the report that ``run.py`` writes to docs/benchmarks.md.

Timings are medians of repeated calls. The candidates of one comparison run in alternating
blocks with a pause between blocks, so background load and onnxruntime's spinning threads (DRUM's
session spins by default) hit all of them alike.
"""

import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import skl2onnx
import sklearn
from datarobot_drum.drum.enum import TargetType
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from dr_onnx_hooks.artifact import find_artifact
from dr_onnx_hooks.cpus import usable_cpus
from dr_onnx_hooks.plan import ModelPlan
from dr_onnx_hooks.settings import Settings
from models import sklearn_onnx, write_model  # tests/models.py, the test suite's model builders

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 30
SIZES = (1, 100, 10_000, 100_000)
POSITIVE, NEGATIVE = "1", "0"
KWARGS = dict(target_type=TargetType.BINARY, positive_class_label=POSITIVE, negative_class_label=NEGATIVE)

Timer = Callable[[], object]
# onnxruntime's own spinning (DRUM's session) keeps a pool thread busy about 30 ms after a run
# (measured: 32 ms of CPU in a 50 ms pause); a candidate timed inside that tail shares the CPUs with it.
SPIN_TAIL = 0.06


def default_settings() -> Settings:
    """The package's defaults, whatever this shell has set: the settings read from an empty environment."""
    return Settings.read(environ={})


def load_plan(folder: Path, settings: Settings) -> ModelPlan:
    """What ``load_model`` returns for ``folder``, with ``settings`` instead of the environment's."""
    return ModelPlan.load(find_artifact(folder), settings)


def frame_of(rows: int, seed: int = 1) -> pd.DataFrame:
    data = np.random.default_rng(seed).normal(size=(rows, FEATURES))
    return pd.DataFrame(data, columns=[f"f{i}" for i in range(FEATURES)])


def build_models(folder: Path) -> dict[str, Path]:
    """Model folders (one ``model.onnx`` each) by name.

    skl2onnx, 30 float features, binary labels 0/1: a LogisticRegression, a 100-tree RandomForest
    and a small MLPClassifier without ZipMap, and the RandomForest and LogisticRegression again
    with skl2onnx's default ZipMap output. Converted and written by the test suite's builders.
    """
    X, y = make_classification(n_samples=5000, n_features=FEATURES, n_informative=12, random_state=0)
    X = X.astype(np.float32)
    train = pd.DataFrame(X, columns=[f"f{i}" for i in range(FEATURES)])
    fitted = {
        "logreg": LogisticRegression(max_iter=1000).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=1).fit(X, y),
        "mlp": MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=0).fit(X, y),
    }
    variants = [(name, model, False) for name, model in fitted.items()]
    variants += [("forest+zipmap", fitted["forest"], True), ("logreg+zipmap", fitted["logreg"], True)]
    return {
        name: write_model(folder / name, sklearn_onnx(model, train, zipmap=zipmap)) for name, model, zipmap in variants
    }


def reps_for(seconds_per_call: float) -> int:
    """Enough repetitions for a stable median, bounded so a size costs about a second per candidate."""
    return int(np.clip(1.0 / max(seconds_per_call, 1e-6), 5, 400))


def medians(candidates: Mapping[str, Timer], rounds: int = 8) -> dict[str, float]:
    """Median seconds per call of each candidate, run in alternating blocks with a pause between."""
    for call in candidates.values():  # one untimed call each, and a cost estimate
        call()
    start = time.perf_counter()
    next(iter(candidates.values()))()
    block = max(1, reps_for(time.perf_counter() - start) // rounds)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, call in candidates.items():
            time.sleep(SPIN_TAIL)  # let spinning pool threads of the previous candidate park
            for _ in range(block):
                t = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - t)
    return {name: float(np.median(v)) for name, v in times.items()}


def warm_up(folder: Path, settings: Settings, seconds: float = 3.0) -> None:
    """``score()`` on 10,000 rows for ``seconds``, discarded: the first section otherwise runs on a
    machine still settling after the models' training (its first figures came out up to 1.7x slower
    than the same calls later in the run)."""
    from dr_onnx_hooks import score

    plan, frame = load_plan(folder, settings), frame_of(10_000)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        score(frame, plan, **KWARGS)


def row_count(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


@dataclass
class Report:
    """The sections' tables and text, the targets with their verdicts, and the notes on misses and defaults."""

    lines: list[str] = field(default_factory=list)
    targets: list[tuple[str, str, str, bool]] = field(default_factory=list)  # target, measured, bound, met
    notes: list[str] = field(default_factory=list)  # what bounds a missed target
    defaults: list[str] = field(default_factory=list)  # why a default is what it is

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        self.lines += ["| " + " | ".join(row) + " |" for row in rows]
        self.lines.append("")

    def heading(self, text: str, intro: str = "") -> None:
        self.lines += [f"## {text}", ""] + ([intro, ""] if intro else [])
        print(f"\n== {text}", flush=True)

    def row(self, cells: Sequence[str]) -> None:
        """Progress on the console: one table row as it is measured."""
        print("  ", " ".join(cells), flush=True)

    def target(self, name: str, measured: float, bound: float, at_least: bool = False) -> bool:
        met = measured >= bound if at_least else measured <= bound
        limit = f"{'>=' if at_least else '<='} {bound:g}"
        self.targets.append((name, f"{measured:.2f}", limit, met))
        print(f"   target {name}: {measured:.2f} ({limit}) {'met' if met else 'MISSED'}", flush=True)
        return met

    def missed(self, text: str) -> bool:
        return any(text in name and not ok for name, *_, ok in self.targets)

    def write(self, output: Path, started: float, machine: Sequence[str]) -> None:
        """The report, after ``machine()`` lines taken when the run started."""
        met = sum(1 for *_, ok in self.targets if ok)
        lines = [
            "# dr_onnx_hooks benchmarks",
            "",
            f"Written by `benchmarks/run.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in "
            f"{time.time() - started:.0f} s. All ratios come from this one run; timings are medians.",
            "",
            *machine,
            "",
            f"## Targets: {met} of {len(self.targets)} met",
            "",
            "| target | measured | bound | |",
            "|---|---|---|---|",
            *[f"| {name} | {value} | {bound} | {'met' if ok else '**missed**'} |"
              for name, value, bound, ok in self.targets],
            "",
        ]
        if self.notes:
            lines += ["## What bounds the missed targets", ""] + [f"- {note}" for note in self.notes] + [""]
        if self.defaults:
            lines += ["## Defaults chosen from these figures", ""] + [f"- {text}" for text in self.defaults] + [""]
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("\n".join(lines + self.lines))
        print(f"\nwrote {output}")


def machine() -> list[str]:
    """The machine, the versions measured and the load average, for the report's head."""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown"
    return [
        f"- CPU: {cpu}; {os.cpu_count()} logical CPUs, {usable_cpus()} usable by this process "
        "(affinity and cgroup quota)",
        f"- {platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- onnxruntime {ort.__version__}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"datarobot-drum {version('datarobot-drum')}, "
        f"scikit-learn {sklearn.__version__}, skl2onnx {skl2onnx.__version__}",
        f"- load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other work on the machine shows up as noise)",
    ]
