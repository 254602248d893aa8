import os

import pytest


def stray(name: str) -> bool:
    """A setting of ours (``DR_ONNX_*``, plain or as a runtime parameter), the target type, or the
    worker counts our thread default reads: none may leak in from the shell running the tests."""
    bare = name.removeprefix("MLOPS_RUNTIME_PARAM_")
    return bare.startswith("DR_ONNX_") or bare in ("TARGET_TYPE", "CUSTOM_MODEL_WORKERS", "MAX_WORKERS")


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch):
    """Tests start from DataRobot's defaults, whatever the shell running them has set."""
    for name in [n for n in os.environ if stray(n)]:
        monkeypatch.delenv(name)
