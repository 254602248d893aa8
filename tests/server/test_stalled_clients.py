"""Clients that stall cannot take the server down: a real ``drum server`` started through the
image's ``start_server.sh`` (its serving defaults: ``dr_onnx_hooks.workers.BufferingWorker``,
1000 connections per worker), with the environment's default code (``custom.py``, ``custom_flask.py``).
``tests/container/test_serving.py`` checks the same in the image."""

import shutil
import signal
import socket
import threading
import time

import numpy as np
import pytest
import requests

from drum_helpers import label_args, write_code_dir
from helpers import ATOL, DEFAULT_CODE, assert_probabilities, chunked, csv_bytes
from models import classifier, features, sklearn_onnx, slow_graph
from serving import (
    StartServerDrum,
    assert_answered_while_clients_stall,
    concurrent_mixed_requests,
    frame_from,
    parse_response,
    pings_during_a_long_request,
    post_raw,
    read_until_closed,
    request_head,
    stall,
)

pytestmark = pytest.mark.drum

LABELS = ("no", "yes")
IDLE = 2  # DR_ONNX_IDLE_TIMEOUT for the tests of the bound, in seconds


@pytest.fixture(scope="module")
def model():
    return classifier(LABELS)


def code_dir(folder, onnx_model: bytes):
    write_code_dir(folder, onnx_model)
    for name in ("custom.py", "custom_flask.py"):
        shutil.copy(DEFAULT_CODE / name, folder / name)
    return folder


def start(request, folder, env=None) -> StartServerDrum:
    server = StartServerDrum(folder, "binary", label_args(positive="yes", negative="no"), env=env)
    request.addfinalizer(server.stop)
    return server.start(timeout=90)


@pytest.fixture(scope="module")
def server(request, tmp_path_factory, model):
    """Served with the image's defaults."""
    fitted, train = model
    return start(request, code_dir(tmp_path_factory.mktemp("stalled") / "model", sklearn_onnx(fitted, train)))


@pytest.fixture(scope="module")
def quick_idle(request, tmp_path_factory, model):
    """Served with a short idle bound."""
    fitted, train = model
    folder = code_dir(tmp_path_factory.mktemp("idle") / "model", sklearn_onnx(fitted, train))
    return start(request, folder, {"DR_ONNX_IDLE_TIMEOUT": str(IDLE)})


def assert_serves(server, model, rows=None) -> None:
    fitted, _ = model
    rows = features(5, seed=3) if rows is None else rows
    assert requests.get(server.url + "/ping/", timeout=5).status_code == 200
    response = post_raw(server.port, csv_bytes(rows), timeout=10)
    assert_probabilities(frame_from(response), fitted, rows, LABELS)


def test_the_image_defaults_serve_with_the_buffering_worker(server):
    log = server.log_path.read_text()
    assert "Using worker: dr_onnx_hooks.workers.BufferingWorker" in log
    assert ("dr_onnx_hooks worker: each request read whole before it is handled, up to 1000 connections, "
            "idle bound 30 s") in log


def test_a_good_request_is_answered_within_2_s_while_20_clients_hold_half_sent_bodies(server, model):
    assert_answered_while_clients_stall(server.port, model[0], LABELS, finishing=10)
    assert_serves(server, model)


def test_a_body_idle_past_the_bound_is_answered_400_and_closed(quick_idle, model):
    (upload,) = stall(quick_idle.port, csv_bytes(features(30)), 1, sent=15)
    try:
        raw, seconds = read_until_closed(upload.sock, timeout=IDLE + 10)
    finally:
        upload.close()
    assert IDLE - 0.5 < seconds < IDLE + 3, seconds
    assert raw.startswith(b"HTTP/1.1 400"), raw[:300]
    assert b"nothing received for 2 s (DR_ONNX_IDLE_TIMEOUT)" in raw
    assert_serves(quick_idle, model)


@pytest.mark.parametrize("sent, bound", [
    (b"POST /predict/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le", IDLE),  # stalls in the headers
    (b"", 2),  # sends nothing: DRUM's first-byte check (DRUM_GUNICORN_FIRST_BYTE_TIMEOUT, 2 s)
])
def test_a_connection_idle_before_its_body_is_closed(quick_idle, model, sent, bound):
    with socket.create_connection(("127.0.0.1", quick_idle.port), timeout=10) as sock:
        sock.sendall(sent)
        raw, seconds = read_until_closed(sock, timeout=bound + 10)
    assert bound - 0.5 < seconds < bound + 3, seconds
    assert raw == b""
    assert_serves(quick_idle, model)


def test_a_slow_upload_that_keeps_sending_is_not_cut_by_the_bound(quick_idle, model):
    rows = features(30, seed=4)
    started = time.monotonic()
    response = post_raw(quick_idle.port, csv_bytes(rows), pieces=5, pause=IDLE * 0.6)  # longer than the bound
    assert time.monotonic() - started > IDLE * 2
    assert_probabilities(frame_from(response), model[0], rows, LABELS)


def test_concurrent_requests_of_different_sizes_and_formats_on_one_worker_get_their_own_predictions(server, model):
    sizes = [1, 3, 17, 200, 1000, 2, 64, 5, 500, 9, 33, 120]
    frames = [features(n, seed=100 + i) for i, n in enumerate(sizes)]
    for fmt, frame, answer in concurrent_mixed_requests(server.port, frames):
        got = frame_from(answer)
        assert len(got) == len(frame), fmt
        assert_probabilities(got, model[0], frame, LABELS)


def test_sigterm_during_a_slow_upload_lets_it_finish_with_200_and_the_server_exits_0(request, tmp_path, model):
    """Clients that have gone quiet meanwhile do not hold the shutdown for the whole idle bound (30 s)."""
    fitted, train = model
    server = start(request, code_dir(tmp_path / "model", sklearn_onnx(fitted, train)))
    stalled = stall(server.port, csv_bytes(features(20)), 3)
    rows = features(50, seed=5)
    answer = {}
    upload = threading.Thread(target=lambda: answer.update(r=post_raw(server.port, csv_bytes(rows), pieces=6,
                                                                       pause=0.5)))
    upload.start()
    time.sleep(1.0)  # in the middle of the body
    stopped = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    upload.join(60)
    assert_probabilities(frame_from(answer["r"]), fitted, rows, LABELS)
    assert server.process.wait(60) == 0
    assert time.monotonic() - stopped < 10, "a container runtime's stop timeout (Docker: 10 s) would have passed"
    assert "Closing a connection idle for 5 s or more: the server is stopping." in server.log_path.read_text()
    for upload_ in stalled:
        upload_.close()


def test_ping_is_answered_while_a_long_request_runs_in_the_native_thread(request, tmp_path):
    """A request handed to the worker's native thread once its body is read runs off the event loop."""
    server = start(request, code_dir(tmp_path / "model", slow_graph()))
    response, seconds, pings = pings_during_a_long_request(server.port)
    assert seconds > 1.5, "the run was too short to show anything"
    assert pings and max(pings) < 0.5, pings
    np.testing.assert_allclose(frame_from(response)["yes"], 1 / (1 + np.exp(-3.0)), atol=ATOL)


@pytest.fixture(scope="module")
def small_bodies(request, tmp_path_factory, model):
    """Served with DR_ONNX_MAX_BODY_BYTES=150000."""
    fitted, train = model
    folder = code_dir(tmp_path_factory.mktemp("small") / "model", sklearn_onnx(fitted, train))
    return start(request, folder, {"DR_ONNX_MAX_BODY_BYTES": "150000"})


def test_bodies_read_at_once_stay_within_the_body_limit_and_the_next_waits_its_turn(small_bodies, model):
    """The bodies a worker holds together stay within
    DR_ONNX_MAX_BODY_BYTES, which the memory budget allows one request; a body that would pass it
    waits, unread, until the one in progress is done."""
    fitted, _ = model
    server = small_bodies
    first_rows, second_rows = features(1000, seed=6), features(1000, seed=7)  # over 64 KiB each
    (first,) = stall(server.port, csv_bytes(first_rows), 1, sent=5000)
    time.sleep(0.3)
    answer = {}
    second = threading.Thread(target=lambda: answer.update(r=post_raw(server.port, csv_bytes(second_rows))))
    second.start()
    time.sleep(1.0)
    assert second.is_alive(), "the second body was read while the first held the budget"
    assert requests.get(server.url + "/ping/", timeout=5).status_code == 200
    assert_probabilities(frame_from(first.finish()), fitted, first_rows, LABELS)
    second.join(30)
    assert_probabilities(frame_from(answer["r"]), fitted, second_rows, LABELS)
    first.close()


def test_the_worker_class_set_through_drum_s_runtime_parameter_is_kept(request, tmp_path, model):
    fitted, train = model
    env = {"MLOPS_RUNTIME_PARAM_DRUM_GUNICORN_WORKER_CLASS": '{"type": "string", "payload": "sync"}'}
    server = start(request, code_dir(tmp_path / "model", sklearn_onnx(fitted, train)), env)
    assert "Using worker: sync" in server.log_path.read_text()
    assert_serves(server, model)



@pytest.mark.parametrize("framing", ["Content-Length", "chunked"])
def test_a_body_past_the_limit_is_a_413_without_being_read(small_bodies, model, framing):
    body = csv_bytes(features(2500, seed=8))
    assert len(body) > 150000
    if framing == "chunked":
        head = request_head(None, extra="Transfer-Encoding: chunked\r\n")
        payload = chunked(body[:100000], body[100000:])
    else:
        head, payload = request_head(len(body)), body
    with socket.create_connection(("127.0.0.1", small_bodies.port), timeout=10) as sock:
        sock.sendall(head + payload[:100100])  # the rest never comes: the answer must not wait for it
        raw, seconds = read_until_closed(sock, timeout=10)
    assert seconds < 2, seconds
    assert raw.startswith(b"HTTP/1.1 413"), raw[:300]
    assert b"DR_ONNX_MAX_BODY_BYTES" in raw
    assert_serves(small_bodies, model)


def test_a_client_that_does_not_read_its_large_response_does_not_hold_the_worker(quick_idle, model):
    """The response is written by the loop as the client takes it; past the idle bound unread, the
    connection is closed."""
    rows = features(200_000, seed=9)  # a response of about 8 MB: more than the sockets hold (4 MB at most)
    body = csv_bytes(rows)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
        sock.settimeout(30)
        sock.connect(("127.0.0.1", quick_idle.port))
        sock.sendall(request_head(len(body)) + body)
        time.sleep(5)  # scored and answered; the client reads nothing
        started = time.monotonic()
        assert_serves(quick_idle, model)
        assert time.monotonic() - started < 2
        time.sleep(IDLE + 1.5)  # past the idle bound with nothing taken: closed
        received = bytearray()
        try:
            while chunk := sock.recv(1 << 20):
                received += chunk
        except ConnectionResetError:
            pass
    head, _, answer = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:300]
    announced = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    assert 0 < len(answer) < announced, "the client took none of it, or all of it"
    assert "nothing read by the client for 2 s (DR_ONNX_IDLE_TIMEOUT)" in quick_idle.log_path.read_text()


@pytest.mark.parametrize("waits_for_100", [True, False])
def test_expect_100_continue_is_answered_once_then_the_body_is_scored(server, model, waits_for_100):
    """curl and .NET clients send ``Expect: 100-continue`` and wait for it before the body (up to a
    second); others send the body at once anyway."""
    rows = features(40, seed=11)
    body = csv_bytes(rows)
    head = request_head(len(body), extra="Expect: 100-continue\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        if waits_for_100:
            sock.sendall(head)
            assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(body)
        else:
            sock.sendall(head + body)
        raw, _ = read_until_closed(sock, timeout=10)
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    if not waits_for_100 and raw.startswith(interim):
        raw = raw[len(interim):]  # gunicorn's own, sent once
    assert raw.startswith(b"HTTP/1.1 200"), raw[:300]
    assert_probabilities(frame_from(parse_response(raw)), model[0], rows, LABELS)


def test_running_out_of_file_descriptors_pauses_accepting_and_the_worker_serves_on(request, tmp_path, model):
    """More connections than the process may open files: the rest wait in the listen backlog (one
    warning), and once they close the worker serves as before."""
    fitted, train = model
    folder = code_dir(tmp_path / "model", sklearn_onnx(fitted, train))
    server = StartServerDrum(folder, "binary", label_args(positive="yes", negative="no"))
    server.cmd = ["prlimit", "--nofile=80", *server.cmd]  # util-linux's: at most 80 open files
    request.addfinalizer(server.stop)
    server.start(timeout=90)
    hanging = []
    try:
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"POST /predict/ HTTP/1.1\r\nHo")
            hanging.append(sock)
        time.sleep(1.5)
    finally:
        for sock in hanging:
            sock.close()
    time.sleep(1.0)
    assert_serves(server, model)
    log = server.log_path.read_text()
    assert log.count("Not accepting connections for now: [Errno 24] Too many open files") == 1, log[-3000:]


def test_an_upload_announcing_the_whole_body_budget_and_stalling_does_not_hold_small_requests(small_bodies, model):
    head = request_head(150000)
    with socket.create_connection(("127.0.0.1", small_bodies.port), timeout=10) as stalled:
        stalled.sendall(head + b"f0,f1,f2,f3\n" + b"0.1,0.2,0.3,0.4\n" * 100)
        time.sleep(0.5)
        started = time.monotonic()
        assert_serves(small_bodies, model)
        assert time.monotonic() - started < 2


def test_a_good_request_is_answered_within_2_s_while_300_clients_hold_half_sent_bodies(server, model):
    """More than DRUM's gevent default (5) or the 100 this image used to allow per worker."""
    assert_answered_while_clients_stall(server.port, model[0], LABELS, finishing=5, clients=300)
