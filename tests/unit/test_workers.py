"""dr_onnx_hooks.workers without a server: the idle bound's setting, the bounded socket, ``offload``
outside the worker, and what importing the worker class costs the gunicorn master.
(tests/server/test_stalled_clients.py and tests/container/test_serving.py run the worker for real.)"""

import errno
import json
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

from dr_onnx_hooks import workers
from dr_onnx_hooks.errors import DrOnnxError


def test_offload_without_the_worker_is_a_plain_call_and_raises_what_the_function_raises():
    assert workers.offload(lambda a, b=0: a + b, 1, b=2) == 3
    with pytest.raises(KeyError, match="boom"):
        workers.offload(lambda: {}["boom"])


@pytest.mark.parametrize("environ, seconds", [
    ({}, 30),
    ({"DR_ONNX_IDLE_TIMEOUT": "5"}, 5),
    ({"DR_ONNX_IDLE_TIMEOUT": "0"}, None),
    ({"MLOPS_RUNTIME_PARAM_DR_ONNX_IDLE_TIMEOUT": json.dumps({"type": "numeric", "payload": 12})}, 12),
])
def test_idle_timeout_setting(environ, seconds):
    assert workers.idle_timeout(environ) == seconds


@pytest.mark.parametrize("value", ["-1", "soon", "1.5.2"])
def test_an_unusable_idle_timeout_names_the_setting(value):
    with pytest.raises(DrOnnxError, match="DR_ONNX_IDLE_TIMEOUT"):
        workers.idle_timeout({"DR_ONNX_IDLE_TIMEOUT": value})


@contextmanager
def bounded_pair(seconds: float):
    """A connected pair, both closed after: ``ours`` as the worker makes a client connection, ``peer``
    a plain socket."""
    from gevent import socket as gsocket

    left, peer = socket.socketpair()
    ours = gsocket.socket(left.family, left.type, left.proto, fileno=left.detach())
    ours.__class__ = workers._bounded_socket_class(seconds)
    ours.setblocking(True)  # what gunicorn does: blocking now means "at most the bound"
    try:
        yield ours, peer
    finally:
        ours.close()
        peer.close()


def test_a_client_that_sends_nothing_for_the_bound_is_a_quiet_timeout_naming_the_setting(caplog):
    with bounded_pair(0.2) as (ours, peer):
        assert ours.gettimeout() == 0.2
        peer.sendall(b"abc")
        assert ours.recv(10) == b"abc"
        started = time.monotonic()
        with pytest.raises(workers.ClientIdle) as idle:
            ours.recv(10)
        assert 0.15 < time.monotonic() - started < 2
        assert isinstance(idle.value, TimeoutError) and idle.value.errno == errno.ENOTCONN  # gunicorn: no traceback
        assert str(idle.value) == "nothing received for 0.2 s (DR_ONNX_IDLE_TIMEOUT)"
        assert "Closing the connection from" in caplog.text


def test_a_shorter_wait_gunicorn_sets_itself_stays_a_plain_timeout():
    with bounded_pair(5) as (ours, peer):
        ours.settimeout(0.05)  # as gunicorn's close_graceful does while draining
        with pytest.raises(TimeoutError) as plain:
            ours.recv(10)
        assert not isinstance(plain.value, workers.ClientIdle)


def test_a_large_response_to_a_slow_client_that_keeps_reading_is_not_cut():
    payload = bytes(range(256)) * 40_000  # ~10 MB: many waits for the client, each shorter than the bound
    received = bytearray()
    with bounded_pair(0.3) as (ours, peer):

        def slow_reader():
            while chunk := peer.recv(1 << 20):
                received.extend(chunk)
                time.sleep(0.05)

        reader = threading.Thread(target=slow_reader)
        reader.start()
        started = time.monotonic()
        try:
            ours.sendall(payload)
        finally:
            ours.close()  # the reader's end of the stream
        reader.join(30)
    assert bytes(received) == payload
    assert time.monotonic() - started > 0.3  # longer than the bound in all


def test_a_client_that_stops_reading_the_response_is_timed_out():
    with bounded_pair(0.2) as (ours, peer):
        with pytest.raises(workers.ClientIdle, match="nothing read by the client for 0.2 s"):
            ours.sendall(b"x" * 50_000_000)


def test_has_bytes_looks_without_waiting_or_consuming():
    with bounded_pair(5) as (ours, peer):
        assert not workers._has_bytes(ours)
        peer.sendall(b"GET")
        time.sleep(0.05)
        assert workers._has_bytes(ours) and ours.recv(3) == b"GET"


def test_the_worker_class_loads_without_onnxruntime_or_pandas():
    """gunicorn's master imports the worker class before it forks: onnxruntime imported there makes
    every worker abort when it exits (std::system_error, "No such process")."""
    code = (
        "import sys, dr_onnx_hooks.workers as w; w.IdleBoundGeventWorker; "
        "print(sorted(m for m in ('onnxruntime', 'pandas', 'numpy', 'onnx') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


class FakePool:
    """Stands in for the worker's native thread: runs the function, and counts the hand-overs."""

    def __init__(self) -> None:
        self.calls = 0

    def apply(self, function, args=(), kwargs=None):
        self.calls += 1
        return function(*args, **(kwargs or {}))


@pytest.fixture
def pool(monkeypatch):
    fake = FakePool()
    monkeypatch.setattr(workers, "_pool", fake)
    monkeypatch.setattr(workers, "_loop_thread", workers._native_ident())
    monkeypatch.setattr(workers._Pace, "last_small", 0.0)
    monkeypatch.setattr(workers._Pace, "busy", 0)
    return fake


def app_taking(seconds: float):
    def app(environ, start_response):
        time.sleep(seconds)
        return [b"ok"]

    return app


def test_handle_request_outside_the_worker_is_a_plain_call(monkeypatch):
    monkeypatch.setattr(workers, "_pool", None)
    assert workers.handle_request(app_taking(0), {}, None, 10**9) == [b"ok"]


def test_small_quick_requests_stay_on_the_loop_and_large_bodies_go_to_the_native_thread(pool):
    workers.handle_request(app_taking(0), {}, None, 100)
    assert pool.calls == 0
    workers.handle_request(app_taking(0), {}, None, workers.INLINE_BODY_BYTES + 1)
    assert pool.calls == 1


def test_after_a_small_request_that_was_not_quick_small_ones_go_to_the_thread_until_one_is_quick(pool):
    workers.handle_request(app_taking(workers.QUICK_SECONDS * 2), {}, None, 100)  # runs on the loop, once
    assert pool.calls == 0
    workers.handle_request(app_taking(0), {}, None, 100)  # handed over, and quick
    assert pool.calls == 1
    workers.handle_request(app_taking(0), {}, None, 100)  # back on the loop
    assert pool.calls == 1


def test_while_the_native_thread_is_busy_small_requests_queue_behind_it(pool, monkeypatch):
    monkeypatch.setattr(workers._Pace, "busy", 1)
    workers.handle_request(app_taking(0), {}, None, 100)
    assert pool.calls == 1


def test_a_model_slow_at_load_has_its_first_small_request_handed_over(pool):
    workers.expect_request_seconds(workers.QUICK_SECONDS * 3)
    workers.handle_request(app_taking(0), {}, None, 100)
    assert pool.calls == 1
    workers.expect_request_seconds(None)  # nothing measured: the pace is left as it is
    workers.handle_request(app_taking(0), {}, None, 100)
    assert pool.calls == 1


def test_bodies_held_together_stay_within_the_budget_and_one_alone_always_goes_ahead():
    limit = 100
    order = []
    big_in = threading.Event()
    release_big = threading.Event()

    def big():
        with workers.body_reserved(80, limit):
            order.append("big in")
            big_in.set()
            release_big.wait(5)
        order.append("big out")

    def other(name, size):
        with workers.body_reserved(size, limit):
            order.append(f"{name} in")

    first = threading.Thread(target=big)
    first.start()
    assert big_in.wait(5)
    small = threading.Thread(target=other, args=("small", 20))  # 80 + 20 fits: goes ahead
    small.start()
    small.join(5)
    large = threading.Thread(target=other, args=("large", 30))  # 80 + 30 does not: waits for big
    large.start()
    time.sleep(0.2)
    assert order == ["big in", "small in"]
    release_big.set()
    first.join(5)
    large.join(5)
    assert order == ["big in", "small in", "big out", "large in"]
    with workers.body_reserved(500, limit):  # over the limit alone: nothing else held, so it goes ahead
        pass
    assert workers._Bodies.held == 0
