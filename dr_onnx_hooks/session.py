"""Step 2: the onnxruntime session, created with explicit execution providers."""

from pathlib import Path
from typing import List, Union

import onnxruntime as ort

from .errors import MODEL_FAULT, DrOnnxError
from .settings import read_setting

PROVIDERS_SETTING = "DR_ONNX_PROVIDERS"
DEFAULT_PROVIDERS = ["CPUExecutionProvider"]


def providers() -> List[str]:
    """Execution providers from ``DR_ONNX_PROVIDERS`` (comma-separated), CPU by default."""
    wanted = read_setting(PROVIDERS_SETTING)
    if not wanted:
        return list(DEFAULT_PROVIDERS)
    names = [p.strip() for p in wanted.split(",") if p.strip()]
    unknown = [p for p in names if p not in ort.get_available_providers()]
    if unknown:
        raise DrOnnxError(
            f"{PROVIDERS_SETTING} names {', '.join(unknown)}, which this onnxruntime does not have; "
            f"available: {', '.join(ort.get_available_providers())}.",
            MODEL_FAULT,
        )
    return names


def create_session(model: Union[Path, bytes], display_name: str) -> ort.InferenceSession:
    """An ``InferenceSession`` for a model file or serialised model, with onnxruntime's reason on failure."""
    source = str(model) if isinstance(model, Path) else model
    try:
        return ort.InferenceSession(source, providers=providers())
    except DrOnnxError:
        raise
    except Exception as exc:
        raise DrOnnxError(
            f"onnxruntime cannot load {display_name}: {type(exc).__name__}: {exc}", MODEL_FAULT
        ) from exc
