"""Which target type a request is for, and which kind of output it needs."""

from collections.abc import Mapping
from typing import Any

from .errors import ModelError

VALUE_TARGETS = ("regression", "anomaly")  # one number per row
CLASS_TARGETS = ("binary", "multiclass", "multilabel")  # one probability per class and row
TARGETS = VALUE_TARGETS + CLASS_TARGETS


def target_type(kwargs: Mapping[str, Any], default: str | None = None) -> str:
    """``kwargs["target_type"]`` (DRUM passes a ``TargetType`` enum), else ``default`` (``TARGET_TYPE``)."""
    value = kwargs.get("target_type") or default or ""
    name = str(getattr(value, "value", value)).strip().lower()
    if name in TARGETS:
        return name
    raise ModelError(
        f"Target type {name or '(not set)'!r} is not served by dr_onnx_hooks; use one of "
        f"{', '.join(TARGETS)} (--target-type or TARGET_TYPE)."
    )
