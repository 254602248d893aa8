"""Clients that misbehave on purpose, and a ``drum server`` started the way the image starts it.

Shared by ``tests/server/test_stalled_clients.py`` (a local server through ``start_server.sh``),
``tests/container/test_serving.py`` (the image) and ``benchmarks/server.py``. Raw sockets, so a
test decides exactly which bytes are sent and when.
"""

import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from drum_helpers import DRUM, DrumServer
from helpers import ROOT, assert_probabilities, csv_bytes, encoded
from models import features

START_SERVER = ROOT / "start_server.sh"

# Formats sent side by side to one worker, with their Content-Type.
CONTENT_TYPES = {
    "csv": "text/csv",
    "json-records": "application/json",
    "arrow-file": "application/vnd.apache.arrow.file",
    "arrow-stream": "application/vnd.apache.arrow.stream",
}


class StartServerDrum(DrumServer):
    """A real ``drum server`` launched through the image's ``start_server.sh`` (its serving defaults:
    worker class, connections), on this machine: the code folder must hold its own ``custom.py``."""

    def __init__(self, code_dir: Path, target_type: str, labels: Sequence[str] = (), log_dir: Path | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        super().__init__(code_dir, target_type, labels, log_dir=log_dir, env=env)
        self.cmd = ["sh", str(START_SERVER), *self.cmd[2:]]  # start_server.sh execs `drum server <args>`
        self.env["PATH"] = f"{DRUM.parent}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["CODE_DIR"] = str(code_dir)


def request_head(length: int | None, content_type: str = "text/csv", route: str = "/predict/",
                 extra: str = "") -> bytes:
    """A POST's request line and headers, announcing ``length`` body bytes (None: no Content-Length),
    with the ``extra`` header lines (each ending in CRLF)."""
    head = f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{extra}"
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    return (head + "\r\n").encode()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        import json

        return json.loads(self.body)


def parse_response(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return Response(status, headers, body)


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection (or resets it), and the seconds
    that took; raises ``TimeoutError`` when it is still open after ``timeout``."""
    start = time.monotonic()
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            sock.settimeout(max(0.01, timeout - (time.monotonic() - start)))
    except ConnectionResetError:
        pass
    return b"".join(chunks), time.monotonic() - start


class StalledUpload:
    """A client that sends the headers and the first ``sent`` bytes of ``body``, then goes quiet."""

    def __init__(self, port: int, body: bytes, sent: int = 10, content_type: str = "text/csv",
                 host: str = "127.0.0.1") -> None:
        self.body = body
        self.sent = sent
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.sendall(request_head(len(body), content_type) + body[:sent])

    def finish(self, timeout: float = 30) -> Response:
        """Send the rest of the body and read the answer."""
        self.sock.sendall(self.body[self.sent:])
        raw, _ = read_until_closed(self.sock, timeout)
        return parse_response(raw)

    def close(self) -> None:
        self.sock.close()


def post_raw(port: int, body: bytes, content_type: str = "text/csv", pieces: int = 1, pause: float = 0.0,
             timeout: float = 60, host: str = "127.0.0.1") -> Response:
    """POST ``body`` in ``pieces`` with ``pause`` seconds between them (a slow upload); the answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request_head(len(body), content_type))
        bounds = np.linspace(0, len(body), pieces + 1).astype(int)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            if start and pause:
                time.sleep(pause)
            sock.sendall(body[start:stop])
        raw, _ = read_until_closed(sock, timeout)
    return parse_response(raw)


def stall(port: int, body: bytes, count: int, sent: int = 10, host: str = "127.0.0.1") -> list[StalledUpload]:
    """``count`` clients holding half-sent bodies; they are accepted (connected) when this returns."""
    return [StalledUpload(port, body, sent, host=host) for _ in range(count)]


def assert_answered_while_clients_stall(port: int, fitted, labels: Sequence[str], finishing: int,
                                        clients: int = 20) -> None:
    """A good request is answered with ``fitted``'s predictions within 2 s while ``clients`` hold
    half-sent bodies; then ``finishing`` of them send the rest and get their own predictions, and
    the others hang up."""
    body = csv_bytes(features(40, seed=1))
    stalled = stall(port, body, clients)
    try:
        time.sleep(0.5)  # all accepted and waiting in their bodies
        rows = features(12, seed=2)
        started = time.monotonic()
        good = post_raw(port, csv_bytes(rows), timeout=10)
        elapsed = time.monotonic() - started
        assert_probabilities(frame_from(good), fitted, rows, labels)
        assert elapsed < 2, f"answered after {elapsed:.2f} s"
        for upload in stalled[:finishing]:
            assert_probabilities(frame_from(upload.finish()), fitted, features(40, seed=1), labels)
    finally:
        for upload in stalled:
            upload.close()


def frame_from(response: Response) -> pd.DataFrame:
    assert response.status == 200, f"{response.status}: {response.body[:500]!r}"
    return pd.DataFrame(response.json()["predictions"])


def concurrent_mixed_requests(port: int, frames: Sequence[pd.DataFrame], host: str = "127.0.0.1",
                              pieces: int = 4, pause: float = 0.05) -> list[tuple[str, pd.DataFrame, Response]]:
    """Each frame sent at the same time as the others, each in another format (cycling through
    ``CONTENT_TYPES``) and as a slow upload, so that the requests are in flight together on the
    server; ``(format, frame, answer)`` for each."""
    formats = list(CONTENT_TYPES)
    jobs = [(formats[i % len(formats)], frame) for i, frame in enumerate(frames)]
    answers: list[Response | BaseException | None] = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def send(i: int) -> None:
        fmt, frame = jobs[i]
        try:
            start.wait(30)
            answers[i] = post_raw(port, encoded(frame, fmt), CONTENT_TYPES[fmt], pieces=pieces, pause=pause,
                                  host=host)
        except BaseException as exc:  # reported by the caller
            answers[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    results = []
    for (fmt, frame), answer in zip(jobs, answers, strict=True):
        if not isinstance(answer, Response):
            raise AssertionError(f"{fmt} request of {len(frame)} rows failed: {answer!r}")
        results.append((fmt, frame, answer))
    return results


def pings_during_a_long_request(port: int, units: float = 3.0, host: str = "127.0.0.1"):
    """Against a ``slow_graph`` model (about 1e6 loop steps per unit of ``x``): one short but not quick
    request (after which small requests go to the worker's native thread), then a long one and, while
    it runs, ``/ping/`` every 0.1 s. The long request's answer and seconds, and each ping's seconds."""
    import requests

    warm = post_raw(port, csv_bytes(pd.DataFrame({"x": [0.05]})), host=host)
    assert warm.status == 200, warm.body[:300]
    long_request: dict = {}

    def run() -> None:
        started = time.monotonic()
        long_request["response"] = post_raw(port, csv_bytes(pd.DataFrame({"x": [units]})), host=host)
        long_request["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    pings = []
    while thread.is_alive() and len(pings) < 10:
        started = time.monotonic()
        assert requests.get(f"http://{host}:{port}/ping/", timeout=30).status_code == 200
        pings.append(time.monotonic() - started)
        time.sleep(0.1)
    thread.join(60)
    return long_request["response"], long_request["seconds"], pings
