"""A slow model through a real drum server: a run past DR_ONNX_RUN_TIMEOUT answers 503 naming the
setting well before gunicorn's worker timeout, and the same worker serves the next request."""

import time

import numpy as np
import pandas as pd
import pytest

from drum_helpers import DrumServer, label_args, write_code_dir
from models import slow_graph

pytestmark = pytest.mark.drum


def test_a_run_past_the_limit_is_answered_and_the_server_keeps_serving(tmp_path):
    folder = write_code_dir(tmp_path / "model", slow_graph())
    env = {"DR_ONNX_RUN_TIMEOUT": "1"}
    with DrumServer(folder, "binary", label_args(positive="yes", negative="no"), env=env) as server:
        start = time.monotonic()
        slow = server.predict_csv(pd.DataFrame({"x": [5.0]}))  # about 5 s of work
        assert slow.status_code == 503, slow.text
        assert "DR_ONNX_RUN_TIMEOUT=1 seconds" in slow.json()["message"] and time.monotonic() - start < 4
        assert server.get("/ping/").status_code == 200
        good = server.predict_csv(pd.DataFrame({"x": [0.5]}))
        assert good.status_code == 200, good.text
        np.testing.assert_allclose(good.json()["predictions"][0]["yes"], 1 / (1 + np.exp(-0.5)), atol=1e-6)
