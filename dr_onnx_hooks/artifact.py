"""The artifact: find a model folder's one ``.onnx`` file, and read a model file's graph.

Two steps, so that a given file (``inspect MODEL.onnx``) is loaded without a folder search.
"""

import logging
from pathlib import Path

import onnx

from .errors import ModelError

logger = logging.getLogger(__name__)


def find_artifact(model_dir: Path) -> Path:
    """The single file ending ``.onnx`` (any case) at the top level of ``model_dir``.

    A symbolic link is followed only when it stays inside the folder: a model folder must not
    make the server read files elsewhere on the machine.
    """
    if not model_dir.is_dir():
        raise ModelError(f"Model folder {str(model_dir)!r} does not exist or is not a folder.")
    entries = sorted(p.name for p in model_dir.iterdir())
    found = [name for name in entries if name.lower().endswith(".onnx") and (model_dir / name).is_file()]
    if not found:
        raise ModelError(
            f"No .onnx file found at the top level of {str(model_dir)!r}; it holds: "
            f"{', '.join(entries) if entries else '(nothing)'}. Put exactly one model.onnx there."
        )
    if len(found) > 1:
        raise ModelError(
            f"Found {len(found)} .onnx files in {str(model_dir)!r}: {', '.join(found)}. "
            "Keep exactly one model file in the folder."
        )
    path = model_dir / found[0]
    if not path.resolve().is_relative_to(model_dir.resolve()):
        raise ModelError(
            f"{found[0]} in {str(model_dir)!r} is a link to {str(path.resolve())!r}, outside the model folder; "
            "put the model file itself in the folder."
        )
    return path


def read_graph(path: Path) -> onnx.ModelProto:
    """The model's graph (weights stored as external data are not read into memory)."""
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own DecodeError, IO errors are OSError
        raise ModelError(
            f"{path.name} is not a readable ONNX model: {type(exc).__name__}: {exc}"
        ) from exc
