import os

import pytest

from helpers import stray


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch):
    """Tests start from DataRobot's defaults, whatever the shell running them has set (``helpers.stray``)."""
    for name in [n for n in os.environ if stray(n)]:
        monkeypatch.delenv(name)
