"""``python -m dr_onnx_hooks inspect MODEL [--target-type T] [--json]``."""

import argparse
import sys
from collections.abc import Sequence

from . import inspect


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dr_onnx_hooks")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect.add_arguments(
        commands.add_parser("inspect", help="show how dr_onnx_hooks would serve a model (same as dr-onnx-inspect)")
    )
    args = parser.parse_args(argv)
    return inspect.run(args)


if __name__ == "__main__":
    sys.exit(main())
