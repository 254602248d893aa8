"""Bounded load on a real 2-worker gunicorn ``drum server`` over loopback: no errors, correct
answers, and no memory growth. Fixed request count and time limit; prints its figures."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import psutil
import pytest
import requests

from drum_helpers import DrumServer, label_args, write_code_dir
from helpers import ATOL, csv_bytes, sklearn_proba
from models import classifier, features, sklearn_onnx

pytestmark = pytest.mark.drum

REQUESTS = 5000
CONCURRENCY = 8
TIME_LIMIT = 150  # seconds for all requests
WORKERS = {"MLOPS_RUNTIME_PARAM_CUSTOM_MODEL_WORKERS": '{"type": "numeric", "payload": 2}'}


def server_rss(pid: int) -> int:
    """Resident memory of the gunicorn master and its workers."""
    master = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [master, *master.children(recursive=True)])


def test_mixed_traffic_at_concurrency_8(tmp_path):
    model, train = classifier(("no", "yes"), kind="rf")
    folder = write_code_dir(tmp_path / "model", sklearn_onnx(model, train))
    small, large = features(1, seed=1), features(100, seed=2)
    bodies = {1: csv_bytes(small), 100: csv_bytes(large)}
    expected = {1: sklearn_proba(model, small), 100: sklearn_proba(model, large)}
    with DrumServer(folder, "binary", label_args("yes", "no"), env=WORKERS) as server:
        workers = len(psutil.Process(server.process.pid).children())
        local = threading.local()
        rss = {}

        def call(i: int):
            if i == 1000:
                rss["first"] = server_rss(server.process.pid)
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            rows = 100 if i % 2 else 1
            response = session.post(server.url + "/predict/", data=bodies[rows],
                                    headers={"Content-Type": "text/csv"}, timeout=30)
            return i, rows, response.status_code, response.json() if response.status_code == 200 else response.text

        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(call, range(REQUESTS), timeout=TIME_LIMIT))
        elapsed = time.monotonic() - started
        rss["last"] = server_rss(server.process.pid)

    errors = [(i, status, body) for i, _, status, body in results if status != 200]
    assert not errors, f"{len(errors)} failed requests, first: {errors[:3]}"
    for _, rows, _, body in results[::97]:  # a sample of responses, both sizes
        got = pd.DataFrame(body["predictions"])
        assert len(got) == rows
        for label in ("no", "yes"):
            np.testing.assert_allclose(got[label], expected[rows][label], atol=ATOL)
    growth = rss["last"] / rss["first"] - 1
    print(f"\nload: {REQUESTS} requests (1 and 100 rows) at concurrency {CONCURRENCY} on {workers} workers "
          f"in {elapsed:.1f} s = {REQUESTS / elapsed:.0f} req/s; server RSS {rss['first'] / 1e6:.0f} MB after 1000, "
          f"{rss['last'] / 1e6:.0f} MB at the end ({growth:+.1%})")
    assert workers == 2
    assert growth < 0.05
