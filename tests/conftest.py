import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/models.py and friends import as plain modules


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch):
    """Tests start from DataRobot's defaults, whatever the shell running them has set."""
    for name in ("TARGET_TYPE", "DR_ONNX_OUTPUT", "DR_ONNX_PROVIDERS", "DR_ONNX_MODEL_DIR",
                 "DR_ONNX_MAX_COLUMNS", "DR_ONNX_MAX_ROWS", "DR_ONNX_MAX_CELLS"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv("MLOPS_RUNTIME_PARAM_" + name, raising=False)
