"""Build the archives DataRobot takes.

    python scripts/archives.py env [--output py_dropin.tar.gz]
        The environment tarball: only the files the image build needs, at the archive root.
    python scripts/archives.py model MODEL_DIR [--output custom_model.tar.gz]
        A model archive: the folder's one .onnx file and, if present, its custom.py.
"""

import argparse
import sys
import tarfile
from pathlib import Path
from typing import Iterable, Optional

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT_FILES = (
    "Dockerfile", ".dockerignore", "requirements.txt", "env_info.json", "start_server.sh", "README.md",
    "dr_onnx_hooks", "default_code",
)


def _skip_caches(info: tarfile.TarInfo) -> Optional[tarfile.TarInfo]:
    return None if "__pycache__" in info.name or info.name.endswith(".pyc") else info


def _write(output: Path, base: Path, names: Iterable[str]) -> Path:
    with tarfile.open(output, "w:gz") as archive:
        for name in names:
            archive.add(base / name, arcname=name, filter=_skip_caches)
    return output


def environment_archive(output: Path) -> Path:
    return _write(output, ROOT, ENVIRONMENT_FILES)


def model_archive(model_dir: Path, output: Path) -> Path:
    models = sorted(p.name for p in model_dir.iterdir() if p.is_file() and p.name.lower().endswith(".onnx"))
    if len(models) != 1:
        found = ", ".join(models) if models else "none"
        raise SystemExit(f"{model_dir} must hold exactly one .onnx file; found {len(models)}: {found}")
    extra = ["custom.py"] if (model_dir / "custom.py").is_file() else []
    return _write(output, model_dir, models + extra)


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    env = commands.add_parser("env", help="environment tarball (py_dropin.tar.gz)")
    env.add_argument("--output", type=Path, default=Path("py_dropin.tar.gz"))
    model = commands.add_parser("model", help="model archive (custom_model.tar.gz)")
    model.add_argument("model_dir", type=Path)
    model.add_argument("--output", type=Path, default=Path("custom_model.tar.gz"))
    args = parser.parse_args(argv)
    if args.command == "env":
        written = environment_archive(args.output)
    else:
        written = model_archive(args.model_dir, args.output)
    print(written)


if __name__ == "__main__":
    main(sys.argv[1:])
