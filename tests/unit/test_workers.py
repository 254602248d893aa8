"""dr_onnx_hooks.workers without a server: the idle bound's setting, where a request ends (its
framing, chunked bodies), the connection as gunicorn's socket (reads from memory, writes that never
wait), and what importing the worker class costs the gunicorn master.
(tests/server/test_stalled_clients.py and tests/container/test_serving.py run the worker for real.)"""

import json
import socket
import subprocess
import sys
from contextlib import contextmanager

import pytest

from dr_onnx_hooks import workers
from dr_onnx_hooks.errors import DrOnnxError
from helpers import chunked

HEAD = b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"


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


def test_the_worker_class_loads_without_onnxruntime_or_pandas():
    """gunicorn's master imports the worker class before it forks: onnxruntime imported there makes
    every worker abort when it exits (std::system_error) once the worker has started a thread."""
    code = (
        "import sys, dr_onnx_hooks.workers as w; w.BufferingWorker; "
        "print(sorted(m for m in ('onnxruntime', 'pandas', 'numpy', 'onnx', 'gevent') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- where a request ends -------------------------------------------------------------------------

@pytest.mark.parametrize("headers, length, chunked, unclear, expect", [
    (b"Content-Length: 12\r\n", 12, False, False, False),
    (b"content-length:  7 \r\nExpect: 100-Continue\r\n", 7, False, False, True),
    (b"", 0, False, False, False),
    (b"Transfer-Encoding: chunked\r\n", 0, True, False, False),
    (b"Content-Length: 3\r\nContent-Length: 3\r\n", 3, False, False, False),  # the same twice: gunicorn's call
    (b"Content-Length: 3\r\nContent-Length: 4\r\n", 0, False, True, False),
    (b"Content-Length: -3\r\n", 0, False, True, False),
    (b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", 0, True, True, False),
    (b"Transfer-Encoding: gzip, chunked\r\n", 0, True, True, False),
])
def test_framing_reads_the_body_s_extent_from_the_head(headers, length, chunked, unclear, expect):
    framing = workers.Framing(HEAD + headers + b"\r\n")
    assert (framing.length, framing.chunked, framing.unclear, framing.expect_continue) == (
        length, chunked, unclear, expect)
    assert framing.has_body == (chunked or length > 0)


@pytest.mark.parametrize("body", [
    chunked(b"a,b\n", b"1,2\n"),
    chunked(b"x" * 300, trailers=b"X-Checksum: 1\r\n"),
    chunked(),
    b"4;name=value\r\na,b\n\r\n0\r\n\r\n",
])
def test_a_chunked_body_ends_after_its_last_chunk_and_trailers_however_it_arrives(body):
    data = b"prefix" + body
    assert workers.chunked_end(bytearray(data), 6, 10**6)[::2] == (len(data), False)  # all at once
    buf, start = bytearray(b"prefix"), 6
    for i in range(len(body)):  # one byte at a time: incomplete until the very last
        buf += body[i:i + 1]
        end, start, too_large = workers.chunked_end(buf, start, 10**6)
        assert (end is not None) == (i == len(body) - 1) and not too_large, i
    assert end == len(data)


@pytest.mark.parametrize("body", [b"zz\r\nab\r\n0\r\n\r\n", b"9" * 2000])
def test_a_chunked_framing_error_ends_the_body_where_it_is(body):
    assert workers.chunked_end(bytearray(body), 0, 10**6)[::2] == (len(body), False)


def test_chunks_past_the_limit_end_the_body_where_it_is():
    body = bytearray(chunked(b"x" * 100, b"y" * 100))
    assert workers.chunked_end(body[:100], 0, 150)[::2] == (None, False)  # the first chunk alone is within it
    assert workers.chunked_end(body[:112], 0, 150)[::2] == (112, True)  # the second one's size line says past it
    assert workers.chunked_end(body, 0, 150)[::2] == (len(body), True)


def new_connection(sock=None) -> workers.Connection:
    return workers.Connection(sock, ("10.0.0.1", 5000), None, 0.0)


def test_a_request_is_complete_once_its_announced_body_has_come_in_any_pieces():
    request = HEAD + b"Content-Length: 8\r\n\r\na,b\n1,2\n"
    for cut in range(1, len(request)):
        connection = new_connection()
        connection.arrived(request[:cut], 100)
        assert connection.end is None, cut
        connection.arrived(request[cut:], 100)
        assert connection.end == len(request), cut


@pytest.mark.parametrize("request_bytes", [
    HEAD + b"Content-Length: 1000\r\n\r\nab",
    HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b"x" * 60, b"y" * 60)[:100],
])
def test_a_body_past_the_limit_is_handed_over_at_once_and_reading_on_raises_never_ends_short(request_bytes):
    connection = new_connection()
    connection.arrived(request_bytes, 100)
    assert connection.end is not None
    while connection.pos < len(connection.buf):
        connection.recv(1 << 16)
    with pytest.raises(workers.BodyTooLarge, match=r"than the 100 .*DR_ONNX_MAX_BODY_BYTES"):
        connection.recv(1 << 16)


def test_headers_with_no_end_past_the_bound_are_handed_to_gunicorn_s_parser_as_they_are():
    connection = new_connection()
    connection.arrived(HEAD + b"X: " + b"y" * workers.MAX_HEAD_BYTES, 100)
    assert connection.end is not None and connection.framing is None


# --- the connection as gunicorn's socket ------------------------------------------------------------

def test_reads_answer_from_the_bytes_received_then_raise_the_failure_once_then_end():
    connection = new_connection()
    connection.arrived(b"abcdef", 100)
    connection.failure = workers.ClientIdle(2, "received")
    assert connection.recv(4) == b"abcd" and connection.recv(4) == b"ef"
    assert connection.buf == b"", "the buffer is let go once the parser has it all"
    with pytest.raises(workers.ClientIdle, match=r"nothing received for 2 s \(DR_ONNX_IDLE_TIMEOUT\)") as idle:
        connection.recv(4)
    assert idle.value.errno is not None  # gunicorn logs a client gone, not a traceback
    assert connection.recv(4) == b""


@contextmanager
def pair(buffer_bytes: int | None = None):
    ours, peer = socket.socketpair()
    if buffer_bytes:
        for sock, option in ((ours, socket.SO_SNDBUF), (peer, socket.SO_RCVBUF)):
            sock.setsockopt(socket.SOL_SOCKET, option, buffer_bytes)
    try:
        yield ours, peer
    finally:
        ours.close()
        peer.close()


def test_the_response_s_headers_go_out_with_its_body_in_one_send():
    with pair() as (ours, peer):
        connection = new_connection(ours)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        peer.setblocking(False)
        with pytest.raises(BlockingIOError):
            peer.recv(100)  # the headers wait for the body
        connection.sendall(b"body")
        assert peer.recv(100) == b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"


def test_a_response_with_no_body_goes_out_when_gunicorn_shuts_the_connection():
    with pair() as (ours, peer):
        connection = new_connection(ours)
        connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        connection.shutdown(socket.SHUT_WR)
        assert peer.recv(100) == b"HTTP/1.1 204 No Content\r\n\r\n"
        assert peer.recv(100) == b""


def test_a_response_the_client_does_not_take_never_waits_and_the_loop_sends_the_rest():
    body = bytes(range(256)) * 4096  # 1 MiB, far more than the socket buffers hold
    with pair(buffer_bytes=4096) as (ours, peer):
        connection = new_connection(ours)
        connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        connection.sendall(body)  # returns at once: the client reads nothing yet
        assert connection.outbox
        connection.close()  # what gunicorn does next: the socket stays open until the rest is sent
        assert connection.closing and ours.fileno() >= 0
        received = bytearray()
        while connection.outbox:
            connection.transmit()
            received += peer.recv(1 << 20)
        ours.shutdown(socket.SHUT_WR)
        while chunk := peer.recv(1 << 20):
            received += chunk
        assert received == b"HTTP/1.1 200 OK\r\n\r\n" + body


def test_the_loop_s_100_continue_is_not_sent_twice():
    with pair() as (ours, peer):
        connection = new_connection(ours)
        connection.continued = True
        connection.sendall(workers.CONTINUE)  # gunicorn's own, when it handles the request
        connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        connection.sendall(b"x")
        assert peer.recv(100) == b"HTTP/1.1 200 OK\r\n\r\nx"


def test_gunicorn_s_own_100_continue_goes_out_before_the_response():
    with pair() as (ours, peer):
        connection = new_connection(ours)
        assert connection.send(workers.CONTINUE) == len(workers.CONTINUE)  # what gunicorn's wsgi.create calls
        connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        connection.sendall(b"x")
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := peer.recv(100):
            received += chunk
        assert received == workers.CONTINUE + b"HTTP/1.1 200 OK\r\n\r\nx"


def test_a_model_slow_at_load_starts_the_pace_slow(monkeypatch):
    monkeypatch.setattr(workers._Pace, "last_small", 0.0)
    workers.expect_request_seconds(workers.QUICK_SECONDS * 3)
    assert workers._Pace.last_small == workers.QUICK_SECONDS * 3
    workers.expect_request_seconds(None)  # nothing measured: the pace is left as it is
    assert workers._Pace.last_small == workers.QUICK_SECONDS * 3
