"""``python -m dr_onnx_hooks inspect MODEL [--target-type T] [--json]`` and
``python -m dr_onnx_hooks score MODEL --input IN --output OUT ...``."""

import argparse
import sys
from collections.abc import Sequence

from . import batch, inspect


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dr_onnx_hooks")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect.add_arguments(
        commands.add_parser("inspect", help="show how dr_onnx_hooks would serve a model (same as dr-onnx-inspect)")
    )
    batch.add_arguments(
        commands.add_parser("score", help="score a CSV, Parquet or Arrow file (same as dr-onnx-score)")
    )
    args = parser.parse_args(argv)
    return batch.run(args) if args.command == "score" else inspect.run(args)


if __name__ == "__main__":
    sys.exit(main())
