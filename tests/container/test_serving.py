"""Serving under misbehaving clients, in the image started as DataRobot starts it (environment
variables only, no arguments) with ``docker run``: stalled uploads, idle connections, SIGTERM
during an upload, concurrent requests on one worker; and requests Werkzeug refuses early."""

import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from helpers import ATOL, ROOT, assert_probabilities, csv_bytes
from models import classifier, features, sklearn_onnx, slow_graph, write_model
from serving import (
    assert_answered_while_clients_stall,
    concurrent_mixed_requests,
    frame_from,
    pings_during_a_long_request,
    post_raw,
    read_until_closed,
    stall,
)

pytestmark = pytest.mark.container

LABELS = ("no", "yes")
BINARY = {"TARGET_TYPE": "binary", "POSITIVE_CLASS_LABEL": "yes", "NEGATIVE_CLASS_LABEL": "no"}
IDLE = 2  # DR_ONNX_IDLE_TIMEOUT where a test needs a short bound


def readable(folder: Path) -> Path:
    """``folder`` and its files readable by the container's user (pytest's tmp dirs are private to root)."""
    folder.chmod(0o755)
    for child in folder.iterdir():
        child.chmod(0o644)
    return folder


@pytest.fixture(scope="module")
def model():
    return classifier(LABELS)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, model):
    fitted, train = model
    folder = tmp_path_factory.mktemp("serving") / "model"
    write_model(folder, sklearn_onnx(fitted, train))
    return readable(folder)


@pytest.fixture(scope="module")
def served(module_container, model_folder):
    """The artifact-only folder mounted read-only, with the image's defaults."""
    running = module_container(BINARY, [f"{model_folder}:/opt/code:ro"]).run()
    running.wait_ready()
    return running


@pytest.fixture(scope="module")
def quick_idle(module_container, model_folder):
    running = module_container({**BINARY, "DR_ONNX_IDLE_TIMEOUT": str(IDLE)}, [f"{model_folder}:/opt/code:ro"]).run()
    running.wait_ready()
    return running


def assert_serves(running, model) -> None:
    rows = features(6, seed=11)
    assert requests.get(running.url + "/ping/", timeout=5).status_code == 200
    assert_probabilities(frame_from(post_raw(running.port, csv_bytes(rows), timeout=10)), model[0], rows, LABELS)


def test_the_image_serves_with_the_buffering_worker_by_default(served):
    logs = served.logs()
    assert "Using worker: dr_onnx_hooks.workers.BufferingWorker" in logs
    assert ("dr_onnx_hooks worker: each request read whole before it is handled, up to 1000 connections, "
            "idle bound 30 s") in logs
    assert "Control server error" not in logs and "Permission denied" not in logs, logs[-3000:]


def test_a_good_request_is_answered_correctly_within_2_s_while_20_clients_hold_half_sent_bodies(served, model):
    assert_answered_while_clients_stall(served.port, model[0], LABELS, finishing=5)
    assert_serves(served, model)


def test_concurrent_requests_of_different_sizes_and_formats_on_one_worker_get_their_own_predictions(served, model):
    sizes = [1, 4, 25, 300, 1500, 2, 90, 7]
    frames = [features(n, seed=200 + i) for i, n in enumerate(sizes)]
    for fmt, frame, answer in concurrent_mixed_requests(served.port, frames):
        got = frame_from(answer)
        assert len(got) == len(frame), fmt
        assert_probabilities(got, model[0], frame, LABELS)


def test_a_multipart_body_of_1001_parts_is_a_413_and_the_image_keeps_serving(served, model):
    boundary = "b0undary"
    parts = [("X", "x.csv", csv_bytes(features(2)))] + [(f"p{i}", f"p{i}.txt", b"1") for i in range(1_001)]
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'.encode()
        + content + b"\r\n"
        for name, filename, content in parts
    ) + f"--{boundary}--\r\n".encode()
    response = requests.post(served.url + "/predict/", data=body, timeout=30,
                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413, response.text[:300]
    assert "Request Entity Too Large" in response.json()["message"]
    assert_serves(served, model)


def test_a_connection_idle_past_the_bound_is_closed(quick_idle, model):
    (upload,) = stall(quick_idle.port, csv_bytes(features(30)), 1, sent=15)  # idle in its body
    try:
        raw, seconds = read_until_closed(upload.sock, timeout=IDLE + 10)
    finally:
        upload.close()
    assert IDLE - 0.5 < seconds < IDLE + 3, seconds
    assert raw.startswith(b"HTTP/1.1 400") and b"(DR_ONNX_IDLE_TIMEOUT)" in raw, raw[:300]
    with socket.create_connection(("127.0.0.1", quick_idle.port), timeout=10) as sock:  # idle in its headers
        sock.sendall(b"POST /predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        raw, seconds = read_until_closed(sock, timeout=IDLE + 10)
    assert raw == b"" and IDLE - 0.5 < seconds < IDLE + 3, seconds
    assert "Closing the connection from" in quick_idle.logs()
    assert_serves(quick_idle, model)


def test_sigterm_during_a_slow_upload_lets_it_finish_with_200_and_the_container_exits_0(container, model_folder,
                                                                                        model):
    running = container(BINARY, [f"{model_folder}:/opt/code:ro"]).run()
    running.wait_ready()
    stalled = stall(running.port, csv_bytes(features(20)), 3)  # gone quiet: not waited for 30 s
    rows = features(50, seed=5)
    answer = {}
    upload = threading.Thread(target=lambda: answer.update(
        r=post_raw(running.port, csv_bytes(rows), pieces=6, pause=0.5)))
    upload.start()
    time.sleep(1.0)  # in the middle of the body
    stopped = time.monotonic()
    running.docker_cmd("kill", "--signal", "TERM", running.name)
    upload.join(60)
    assert_probabilities(frame_from(answer["r"]), model[0], rows, LABELS)
    assert running.wait_exit(60) == 0, running.logs()[-3000:]
    assert time.monotonic() - stopped < 10, "`docker stop` would have killed it (its default timeout is 10 s)"
    for quiet in stalled:
        quiet.close()


def test_ping_is_answered_while_a_long_request_runs_in_the_worker_s_native_thread(tmp_path, container):
    folder = tmp_path / "model"
    write_model(folder, slow_graph())
    for name in ("custom.py", "custom_flask.py"):
        shutil.copy(ROOT / "default_code" / name, folder / name)
    running = container(BINARY, [f"{readable(folder)}:/opt/code:ro"]).run()
    running.wait_ready()
    response, seconds, pings = pings_during_a_long_request(running.port)
    assert seconds > 1.5 and pings and max(pings) < 0.5, (seconds, pings)
    np.testing.assert_allclose(frame_from(response)["yes"], 1 / (1 + np.exp(-3.0)), atol=ATOL)
