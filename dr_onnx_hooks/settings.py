"""Settings read from a plain environment variable or from a DataRobot runtime parameter.

DataRobot passes runtime parameters as ``MLOPS_RUNTIME_PARAM_<NAME>`` holding JSON such as
``{"type": "string", "payload": "scores"}``. The plain variable ``<NAME>`` wins when both are set.
"""

import json
import os
from typing import Optional

from .errors import MODEL_FAULT, DrOnnxError

RUNTIME_PARAM_PREFIX = "MLOPS_RUNTIME_PARAM_"


def read_setting(name: str) -> Optional[str]:
    """The value of setting ``name`` as a string, or None when it is not set (or empty)."""
    plain = os.environ.get(name, "").strip()
    if plain:
        return plain
    raw = os.environ.get(RUNTIME_PARAM_PREFIX + name, "").strip()
    if not raw:
        return None
    try:
        payload = json.loads(raw)["payload"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DrOnnxError(
            f"Runtime parameter {RUNTIME_PARAM_PREFIX + name} must be JSON like "
            f'{{"type": "string", "payload": "..."}}; got {raw!r} ({exc})',
            MODEL_FAULT,
        ) from exc
    return None if payload is None or str(payload).strip() == "" else str(payload).strip()
