"""``dr-onnx-inspect MODEL`` (also ``python -m dr_onnx_hooks inspect MODEL``): what ``load_model``
would decide for a model, without scoring anything.

The model is loaded by ``ModelPlan.load``, as ``load_model`` loads it, with the same settings read
from the environment (``DR_ONNX_OUTPUT``, ``DR_ONNX_PROVIDERS``, and ``TARGET_TYPE``, which makes
a load fail early for a target the model cannot serve). Everything reported is read from that
plan; nothing is decided here.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .artifact import find_artifact
from .errors import DrOnnxError, ModelError
from .inputs import InputFeed
from .outputs import kind
from .plan import ModelPlan
from .settings import Settings
from .targets import TARGETS

CANNOT_SERVE = 1  # exit status: the model cannot be loaded, or not for the asked target type


def model_file(model: Path) -> Path:
    """The ``.onnx`` file to load: ``model`` itself, or the one ``.onnx`` in the folder ``model``."""
    if model.is_dir():
        return find_artifact(model)
    if not model.is_file():
        raise ModelError(f"{str(model)!r} does not exist.")
    if not model.name.lower().endswith(".onnx"):
        raise ModelError(f"{str(model)!r} is not an .onnx file.")
    return model


def _named_columns(columns: Sequence[str]) -> str:
    return f"column named {columns[0]!r}" if len(columns) == 1 else f"columns {', '.join(columns)}"


def input_plan(feed: InputFeed) -> list[dict[str, Any]]:
    """What each input reads and how it is cast."""
    return [
        {
            "input": i.name,
            "type": i.onnx_type,
            "shape": list(i.shape),
            "columns": _named_columns(feed.columns[i.name]) if feed.by_name else (
                f"all {i.width} columns, in order" if i.width else "all columns, in order"
            ),
            "cast": i.cast.rule,
        }
        for i in feed.inputs
    ]


def _target(plan: ModelPlan, target: str) -> dict[str, Any]:
    try:
        choice = plan.choice(target)
    except DrOnnxError as exc:
        return {"usable": False, "reason": str(exc)}
    return {
        "usable": True,
        "output": choice.name,
        "reads": choice.fetch,
        "reason": choice.reason,
        "labels": list(choice.labels.labels) if choice.labels else None,
        **({"holds": choice.scale_note, "labels_check": choice.agreement} if kind(target) == "class" else {}),
    }


def inspect_model(model: Path, target: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """The plan ``load_model`` makes for ``model`` (an ``.onnx`` file or a model folder), as plain data.

    ``target`` limits the target types reported to that one; ``settings`` default to the
    environment's. Raises ``DrOnnxError`` when the model cannot be loaded.
    """
    plan = ModelPlan.load(model_file(model), settings or Settings.read())
    targets = {t: _target(plan, t) for t in ([target] if target else TARGETS)}
    labels = plan.graph_labels
    return {
        "model": str(model if model.is_file() else plan.path),
        "inputs": [{"name": i.name, "type": i.type, "shape": list(i.shape)} for i in plan.session.get_inputs()],
        "outputs": [{"name": o.name, "type": o.onnx_type, "shape": list(o.shape)} for o in plan.outputs],
        "targets": targets,
        "class_labels": list(labels.labels) if labels else None,
        "class_labels_from": f"{labels.source}; {labels.meaning}" if labels else None,
        "class_order": plan.settings.class_order,
        "input_plan": input_plan(plan.feed),
        "providers": plan.session.get_providers(),
        "servable": any(t["usable"] for t in targets.values()),
    }


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  " + "  ".join([c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]).rstrip() for row in rows
    ]


def render(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    lines = [f"model: {report['model']}", "inputs:"]
    lines += _table([(i["name"], i["type"], str(i["shape"])) for i in report["inputs"]])
    lines.append("outputs:")
    lines += _table([(o["name"], o["type"], str(o["shape"])) for o in report["outputs"]])
    lines.append("target types:")
    lines += _table([
        (target, f"{t['output']}: {t['reason']}" if t["usable"] else f"cannot serve: {t['reason']}")
        for target, t in report["targets"].items()
    ])
    labels = report["class_labels"]
    lines.append(
        f"class labels in the graph: {', '.join(labels)} ({report['class_labels_from']}); "
        f"class order {report['class_order']}" if labels else "class labels in the graph: none"
    )
    for target, t in report["targets"].items():
        if t["usable"] and "holds" in t:
            lines.append(f"{target} output holds: {t['holds']}")
            if t["labels_check"]:
                lines.append(f"{target} labels check: {t['labels_check']}")
            break
    lines.append("input plan:")
    lines += _table([
        (i["input"], i["type"], str(i["shape"]), f"<- {i['columns']}; cast {i['cast']}") for i in report["input_plan"]
    ])
    lines.append(f"providers: {', '.join(report['providers'])}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="an .onnx file, or a model folder holding exactly one")
    parser.add_argument(
        "--target-type", type=str.lower, choices=TARGETS, help="report only this target type; fail if it is unusable"
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Print the report; exit status non-zero, with the reason on stderr, when the model cannot be served."""
    try:
        report = inspect_model(args.model, args.target_type)
    except DrOnnxError as exc:
        print(f"{args.model}: cannot be loaded: {exc}", file=sys.stderr)
        return CANNOT_SERVE
    print(json.dumps(report, indent=2) if args.json else render(report))
    if report["servable"]:
        return 0
    for target, t in report["targets"].items():
        print(f"{args.model}: cannot be served as {target}: {t['reason']}", file=sys.stderr)
    return CANNOT_SERVE


def main(argv: Sequence[str] | None = None) -> int:
    """The ``dr-onnx-inspect`` console script."""
    parser = argparse.ArgumentParser(prog="dr-onnx-inspect", description="Show how dr_onnx_hooks would serve a model.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
