"""Which target type a request is for, and which kind of output it needs."""

import os
from typing import Any, Mapping

from .errors import MODEL_FAULT, DrOnnxError

VALUE_TARGETS = ("regression", "anomaly")  # one number per row
CLASS_TARGETS = ("binary", "multiclass", "multilabel")  # one probability per class and row


def target_type(kwargs: Mapping[str, Any]) -> str:
    """``kwargs["target_type"]`` (DRUM passes a ``TargetType`` enum), else ``$TARGET_TYPE``."""
    value = kwargs.get("target_type") or os.environ.get("TARGET_TYPE", "")
    name = str(getattr(value, "value", value)).strip().lower()
    if name in VALUE_TARGETS + CLASS_TARGETS:
        return name
    raise DrOnnxError(
        f"Target type {name or '(not set)'!r} is not served by dr_onnx_hooks; use one of "
        f"{', '.join(VALUE_TARGETS + CLASS_TARGETS)} (--target-type or TARGET_TYPE).",
        MODEL_FAULT,
    )
