"""Build the archives DataRobot takes.

    python scripts/archives.py env [--output py_dropin.tar.gz]
        The environment tarball: only the files the image build needs, at the archive root.
    python scripts/archives.py model MODEL_DIR [--output custom_model.tar.gz]
        A model archive: the folder's one .onnx file, every external-data file its graph references
        (torch >= 2.9 writes weights over 1 KB to model.onnx.data beside model.onnx) and, if present,
        its custom.py. A referenced file that is missing, or a location outside the folder (absolute,
        or with ..), is refused with its name. Needs the onnx package (the project's .venv has it).
"""

import argparse
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT_FILES = (
    "Dockerfile", ".dockerignore", "requirements.txt", "env_info.json", "start_server.sh", "README.md",
    "dr_onnx_hooks", "default_code",
)


def _skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "__pycache__" in info.name or info.name.endswith(".pyc") else info


def _write(output: Path, base: Path, names: Iterable[str], dereference: bool = False) -> Path:
    with tarfile.open(output, "w:gz", dereference=dereference) as archive:
        for name in names:
            archive.add(base / name, arcname=name, filter=_skip_caches)
    return output


def environment_archive(output: Path) -> Path:
    return _write(output, ROOT, ENVIRONMENT_FILES)


def external_data_locations(model_file: Path) -> list[str]:
    """The ``location`` of every tensor the model stores as external data, each once, in the order found.

    The graph is read without its external data; the model's local functions are searched too.
    """
    try:
        import onnx
    except ImportError:
        raise SystemExit(
            "Packing a model needs the onnx package, to find the external-data files its graph references: "
            "run this script with the project's .venv/bin/python, or pip install onnx."
        ) from None
    try:
        model = onnx.load(str(model_file), load_external_data=False)
    except Exception as exc:  # a file that is not an ONNX model: protobuf's DecodeError and the like
        raise SystemExit(f"{model_file} cannot be read as an ONNX model: {exc}") from exc
    from dr_onnx_hooks.errors import ModelError
    from dr_onnx_hooks.graph import external_data_files

    try:
        return external_data_files(model)
    except ModelError as exc:
        raise SystemExit(f"{model_file.name}: {exc}") from exc


def _data_member(model_dir: Path, model_name: str, location: str) -> str:
    """The archive name of one external-data file: its location, once it is a file inside ``model_dir``."""
    posix, windows = PurePosixPath(location), PureWindowsPath(location)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts + windows.parts:
        raise SystemExit(
            f"{model_name} references external data at {location!r}, outside the model folder (an absolute path or "
            "'..'); onnxruntime reads it relative to the model. Save the model with its external data beside it "
            "(onnx.save_model(..., save_as_external_data=True, location='model.onnx.data'))."
        )
    file = model_dir / posix
    if not file.is_file():
        raise SystemExit(
            f"{model_name} references external data {location!r}, which is missing from {model_dir}: "
            "copy it next to the model (the exporter wrote it beside the .onnx file)."
        )
    if not file.resolve().is_relative_to(model_dir.resolve()):
        raise SystemExit(
            f"{model_name} references external data {location!r}, a link that leads outside {model_dir}; "
            "copy the file itself into the folder."
        )
    return posix.as_posix()


def model_archive(model_dir: Path, output: Path) -> Path:
    models = sorted(p.name for p in model_dir.iterdir() if p.is_file() and p.name.lower().endswith(".onnx"))
    if len(models) != 1:
        found = ", ".join(models) if models else "none"
        raise SystemExit(f"{model_dir} must hold exactly one .onnx file; found {len(models)}: {found}")
    data = [_data_member(model_dir, models[0], loc) for loc in external_data_locations(model_dir / models[0])]
    extra = ["custom.py"] if (model_dir / "custom.py").is_file() else []
    members = list(dict.fromkeys(models + data + extra))
    return _write(output, model_dir, members, dereference=True)  # a linked file is packed as the file itself


def main(argv: list | None = None) -> None:
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
