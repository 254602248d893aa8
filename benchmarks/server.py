"""Section "drum server (gunicorn, 1 worker): our hooks against DRUM's built-in predictor".

Real ``drum server`` subprocesses (``tests/drum_helpers.DrumServer``, whose ``clean_env`` drops
every setting of this shell that would steer DRUM or the hooks, so each server runs with the
defaults plus what its setup names): the environment's ``default_code/custom.py``; a custom.py
importing only ``load_model`` and ``score`` (DRUM parses the CSV); the bare model folder served by
DRUM's built-in predictor; and a forest with the default bounded spinning, without spinning and
with onnxruntime's own (``DR_ONNX_SPIN_MICROSECONDS=0``). Measures
requests/s, p50/p99 latency and worker CPU of 1-row and 1000-row CSV POSTs from a sequential
loopback client, the servers taking turns in blocks, and the first requests after start against
the steady state. Then the gunicorn worker: DRUM's default sync worker against the image's
default (``start_server.sh``: ``dr_onnx_hooks.workers.BufferingWorker``, 1000 connections),
from one client and from several at once, the worker classes alone under plain gunicorn, and
``/ping/``'s latency while a long request runs.
"""

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import requests

from drum_helpers import CUSTOM_PY, DrumServer, label_args  # tests/drum_helpers.py
from helpers import csv_bytes  # tests/helpers.py
from models import slow_graph  # tests/models.py
from serving import (  # tests/serving.py
    StartServerDrum,
    pings_during_a_long_request,
)

from .harness import NEGATIVE, POSITIVE, ROOT, SPIN_TAIL, Report, frame_of, ms, row_count

FIRST_REQUESTS = 5
FIRST_STARTS = 5  # fresh starts of "ours" and "DRUM" whose first requests are timed (one sample per start)
FIRST_OF = ("ours", "DRUM")
PAUSE = 0.25  # as DrumServer.wait_ready polls /ping/: the first request follows such a pause and a /ping/
BLOCK = 25  # requests per server per turn
CLIENTS = (1, 4)  # clients sending at once, in the worker comparison

Setup = tuple[str, Mapping[str, str], Mapping[str, str]]  # model, code files (none: DRUM's predictor), extra env


def environment_code() -> dict[str, str]:
    """The environment's default code folder: ``custom.py`` and ``custom_flask.py``, by name."""
    return {name: (ROOT / "default_code" / name).read_text() for name in ("custom.py", "custom_flask.py")}


def setups() -> dict[str, Setup]:
    environment = environment_code()
    return {
        "ours": ("logreg", environment, {}),
        "ours, load_model+score": ("logreg", {"custom.py": CUSTOM_PY}, {}),
        "DRUM": ("logreg", {}, {}),
        "ours, forest": ("forest", environment, {}),
        "ours, forest, no spinning": ("forest", environment, {"DR_ONNX_ALLOW_SPINNING": "off"}),
        "ours, forest, unbounded spinning": ("forest", environment, {"DR_ONNX_SPIN_MICROSECONDS": "0"}),
    }


def children_cpu(pid: int) -> float:
    """CPU seconds used so far by the children of ``pid`` (a gunicorn master's workers)."""
    return sum(sum(child.cpu_times()[:2]) for child in psutil.Process(pid).children(recursive=True))


def worker_cpu(running: DrumServer) -> float:
    """CPU seconds used so far by the server's gunicorn workers."""
    assert running.process is not None
    return children_cpu(running.process.pid)


def post(running: DrumServer, body: bytes) -> float:
    start = time.perf_counter()
    response = requests.post(running.url + "/predict/", data=body, headers={"Content-Type": "text/csv"}, timeout=60)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"{running.url} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def serve(workdir: Path, model: bytes, files: Mapping[str, str], env: Mapping[str, str] | None = None,
          kind: type[DrumServer] = DrumServer) -> DrumServer:
    """A started server (``kind``) on a new folder of ``workdir`` holding ``model`` and the code ``files``."""
    folder = workdir / f"server-{len(list(workdir.glob('server-*')))}"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(model)
    for name, text in files.items():
        (folder / name).write_text(text)
    return kind(folder, "binary", label_args(POSITIVE, NEGATIVE), log_dir=workdir, env=env).start(timeout=90)


def start(setup: Setup, models: dict[str, Path], workdir: Path) -> DrumServer:
    model, files, env = setup
    return serve(workdir, (models[model] / "model.onnx").read_bytes(), files, env)


@dataclass
class Measured:
    first: dict[str, list[list[float]]]  # per server, per start: its first requests, right after /ping/ answered
    latencies: dict[tuple[str, int], list[float]]  # per server and rows per request: the steady requests
    cpu: dict[tuple[str, int], float]  # worker CPU seconds over those
    paired: dict[str, list[float]]  # a steady server's requests, each sent as the first was: after PAUSE and a /ping/


def measure(models: dict[str, Path], workdir: Path, requests_per_size: int, bodies: dict[int, bytes]) -> Measured:
    """Start every server, time its first requests and, in turns, the steady ones, then requests after
    a pause; always stop them. Then more fresh starts of ``FIRST_OF`` for their first requests."""
    servers: dict[str, DrumServer] = {}
    first: dict[str, list[list[float]]] = {}
    try:
        for name, setup in setups().items():
            servers[name] = start(setup, models, workdir)
            first[name] = [[post(servers[name], bodies[1]) for _ in range(FIRST_REQUESTS)]]
        latencies: dict[tuple[str, int], list[float]] = {(n, s): [] for n in servers for s in bodies}
        cpu: dict[tuple[str, int], float] = {key: 0.0 for key in latencies}
        for size, body in bodies.items():
            for _ in range(requests_per_size // BLOCK):
                for name, running in servers.items():
                    time.sleep(SPIN_TAIL)  # let the previous server's spinning threads park
                    before = worker_cpu(running)
                    latencies[name, size] += [post(running, body) for _ in range(BLOCK)]
                    cpu[name, size] += worker_cpu(running) - before
        paired: dict[str, list[float]] = {name: [] for name in FIRST_OF}
        for _ in range(FIRST_STARTS):
            for name in FIRST_OF:
                time.sleep(PAUSE)
                requests.get(servers[name].url + "/ping/", timeout=5).raise_for_status()
                paired[name].append(post(servers[name], bodies[1]))
    finally:
        for running in servers.values():
            running.stop()
    for _ in range(FIRST_STARTS - 1):
        for name in FIRST_OF:
            running = start(setups()[name], models, workdir)
            try:
                first[name].append([post(running, bodies[1]) for _ in range(FIRST_REQUESTS)])
            finally:
                running.stop()
    return Measured(first, latencies, cpu, paired)


def server(
    report: Report, models: dict[str, Path], workdir: Path, requests_per_size: int, first_calls: dict[str, dict]
) -> None:
    report.heading(
        "drum server (gunicorn, 1 worker): our hooks against DRUM's built-in predictor",
        f"{requests_per_size} sequential POSTs per server and size (`Content-Type: text/csv`) over loopback, the "
        f"servers taking turns in blocks of {BLOCK}. *ours*: the environment's `default_code/custom.py`; *ours, "
        "load_model+score*: a custom.py importing only those two hooks (DRUM parses the CSV); *DRUM*: the folder "
        "without custom.py. The forest servers compare the default spinning (up to `DR_ONNX_SPIN_MICROSECONDS`, "
        "250 us), none (`DR_ONNX_ALLOW_SPINNING=off`) and onnxruntime's own (`DR_ONNX_SPIN_MICROSECONDS=0`) "
        "where onnxruntime's thread pool works (a tree ensemble; the logistic regression's one operator never "
        "uses it).",
    )
    bodies = {1: csv_bytes(frame_of(1, seed=7)), 1000: csv_bytes(frame_of(1000, seed=8)),
              10_000: csv_bytes(frame_of(10_000, seed=10))}
    measured = measure(models, workdir, requests_per_size, bodies)
    latencies, cpu = measured.latencies, measured.cpu
    rows = []
    for (name, size), values in latencies.items():
        rows.append([name, f"{size:,}", f"{len(values) / sum(values):.0f}", ms(float(np.median(values))),
                     ms(float(np.percentile(values, 99))), ms(cpu[name, size] / len(values))])
        report.row(rows[-1])
    report.table(["server", "rows per request", "requests/s", "p50 ms", "p99 ms", "worker CPU ms per request"], rows)
    rate = {key: len(values) / sum(values) for key, values in latencies.items()}
    for size in bodies:
        report.target(
            f"server: req/s ours / DRUM built-in, {size:,}-row requests", rate["ours", size] / rate["DRUM", size], 1.0,
            at_least=True,
        )
    per_request = {key: cpu[key] / len(values) for key, values in latencies.items()}

    def against(other: str) -> str:
        return ", ".join(
            f"{rate['ours, forest', s] / rate[other, s]:.2f}x the requests/s for "
            f"{per_request['ours, forest', s] / per_request[other, s]:.2f}x the worker CPU per request "
            f"at {row_count(s)}"
            for s in bodies
        )

    report.defaults.append(
        "`DR_ONNX_SPIN_MICROSECONDS` = 250 (spinning bounded): through `drum server` the forest answered "
        f"{against('ours, forest, no spinning')} against no spinning, and "
        f"{against('ours, forest, unbounded spinning')} "
        "against onnxruntime's own spinning (server table), which keeps a pool thread busy for tens of "
        "milliseconds after each run: CPU that counts against the container's quota. In one process, "
        "back-to-back calls gain most from spinning (in-process section)."
    )
    if min(rate["ours", s] / rate["DRUM", s] for s in bodies) < 1.0:
        report.notes.append(
            "Server requests/s: per request the worker reads the body, runs `score()`, then DRUM's own "
            "`marshal_predictions` on our already checked frame, then JSON. Against the built-in predictor, "
            "`score()` replaces `ONNXPredictor.predict` and adds the probability frame's checks (see the "
            "in-process note); the environment's `read_input_data` adds to pandas' `read_csv` the checks for "
            "hostile input (a finite number read as ±inf, duplicate column names, a body cut short, cell sizes), "
            "and `custom_flask.py` reads the body first to bound it: "
            + ", ".join(
                f"at {row_count(s)} ours {ms(1 / rate['ours', s])} ms, with load_model+score only "
                f"{ms(1 / rate['ours, load_model+score', s])} ms, DRUM {ms(1 / rate['DRUM', s])} ms per request"
                for s in bodies
            )
            + " (mean)."
        )
    first_requests(report, measured, first_calls)
    workers(report, models, workdir, 6 * requests_per_size)  # a ratio near 1: more requests, less noise


def first_requests(report: Report, measured: Measured, first_calls: dict[str, dict]) -> None:
    """The first request after start against a steady server's request sent the same way, and against
    the steady requests sent back to back."""
    steady = {name: float(np.median(measured.latencies[name, 1])) for name in measured.first}
    first = {name: float(np.median([starts[0] for starts in runs])) for name, runs in measured.first.items()}
    paired = {name: float(np.median(values)) for name, values in measured.paired.items()}
    report.lines += [
        f"First requests after start, 1 row each, sent as soon as `/ping/` answers (which the client polls every "
        f"{PAUSE:g} s); *ours* and *DRUM* started {FIRST_STARTS} times (the first request's median over the "
        "starts), the others once. *Sent the same way*: the same servers once steady (after every request "
        f"above), {FIRST_STARTS} times a pause of {PAUSE:g} s, a `/ping/`, then the request. A request after a "
        "pause pays for the machine's wake-up (CPU caches, idle cores, the client's own), whatever the server "
        "warmed; what is left of *first / sent the same way* above 1 is what the first request costs for "
        "being the first.",
        "",
    ]
    rows = []
    for name, runs in measured.first.items():
        same = [ms(paired[name]), f"{first[name] / paired[name]:.2f}"] if name in paired else ["", ""]
        rows.append([name, "; ".join(", ".join(ms(v) for v in start) for start in runs), *same, ms(steady[name]),
                     f"{first[name] / steady[name]:.2f}"])
    report.table(["server", f"first {FIRST_REQUESTS} requests after start, ms", "steady, sent the same way, ms",
                  "first / sent the same way", "steady back to back p50 ms", "first / back to back"], rows)
    report.lines += [
        f"Against the steady requests sent back to back, the first is ours {first['ours'] / steady['ours']:.2f}x "
        f"({ms(first['ours'])} against {ms(steady['ours'])} ms), DRUM's built-in predictor "
        f"{first['DRUM'] / steady['DRUM']:.2f}x; a steady server's request sent as the first was takes ours "
        f"{ms(paired['ours'])}, DRUM {ms(paired['DRUM'])} ms: that much is the machine waking up, not the "
        "request path.",
        "",
    ]
    if not report.target("server: first request / a steady one sent the same way (1 row)",
                         first["ours"] / paired["ours"], 1.5):
        report.notes.append(
            f"First request: `score()` itself takes {ms(first_calls['logreg']['first'])} ms on its first call "
            f"after load against {ms(first_calls['logreg']['steady'])} ms steady (peak RSS table); the rest of the "
            "first request's cost is in gunicorn, Flask and DRUM's request handling, warmed at load only as far "
            "as `first_request.py` and `flask_ext` reach."
        )


# --- the gunicorn worker ----------------------------------------------------------------------------

BARE_WORKERS = {
    "sync": ["--worker-class", "sync"],
    "gevent (gunicorn's)": ["--worker-class", "gevent", "--worker-connections", "1000"],
    "image default": ["--worker-class", "dr_onnx_hooks.workers.BufferingWorker", "--worker-connections", "1000"],
}


def bare_workers(report: Report, workdir: Path, requests_per_size: int) -> str:
    """Each worker class serving ``bare_app`` (nothing but the body read and a constant answer) under
    plain gunicorn, with DRUM's keep-alive 0: requests/s and worker CPU per request. Returns the
    comparison in words, for the note on the worker."""
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    body = csv_bytes(frame_of(1, seed=7))
    try:
        for name, args in BARE_WORKERS.items():
            with socket.socket() as probe:  # a free port
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", "1", "--keep-alive", "0", "--no-control-socket",
                 "--bind", f"127.0.0.1:{port}", *args, "benchmarks.bare_app:app"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(workdir / f"bare-{port}.log").open("wb"),
            )
            servers[name] = (process, f"http://127.0.0.1:{port}")
        for process, url in servers.values():
            _wait_answering(process, url)
        latencies: dict[str, list[float]] = {name: [] for name in servers}
        cpu = dict.fromkeys(servers, 0.0)
        for _ in range(max(1, 4 * requests_per_size // BLOCK)):
            for name, (process, url) in servers.items():
                before = children_cpu(process.pid)
                for _ in range(BLOCK):
                    start = time.perf_counter()
                    requests.post(url + "/", data=body, timeout=10).raise_for_status()
                    latencies[name].append(time.perf_counter() - start)
                cpu[name] += children_cpu(process.pid) - before
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(10)
    rate = {name: len(values) / sum(values) for name, values in latencies.items()}
    per_request = {name: cpu[name] / len(latencies[name]) for name in servers}
    report.lines += [
        "The worker classes alone: plain gunicorn (1 worker, keep-alive 0 as DRUM sets it) serving "
        "`benchmarks/bare_app.py`, which reads the body and answers a constant; the same 1-row CSV body, one "
        "client, the servers taking turns.",
        "",
    ]
    report.table(["worker", "requests/s", "p50 ms", "worker CPU ms per request"],
                 [[name, f"{rate[name]:.0f}", ms(float(np.median(latencies[name]))), ms(per_request[name])]
                  for name in servers])
    return ", ".join(
        f"{name} {rate[name] / rate['sync']:.2f}x sync's requests/s for {ms(per_request[name] - per_request['sync'])} "
        "ms more worker CPU per request"
        for name in servers if name != "sync"
    )


def _wait_answering(process: subprocess.Popen, url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn for {url} exited with {process.returncode}")
        try:
            requests.post(url + "/", data=b"x", timeout=2).raise_for_status()
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError(f"gunicorn at {url} not answering after {timeout} s")


SYNC = "sync (DRUM's default)"
WORKERS: dict[str, type[DrumServer]] = {SYNC: DrumServer, "image default": StartServerDrum}  # how each starts


def start_worker_servers(model: bytes, workdir: Path) -> dict[str, DrumServer]:
    servers: dict[str, DrumServer] = {}
    try:
        for label, kind in WORKERS.items():
            servers[label] = serve(workdir, model, environment_code(), kind=kind)
    except BaseException:
        for running in servers.values():
            running.stop()
        raise
    return servers


def timed_block(running: DrumServer, body: bytes, clients: int, count: int) -> tuple[list[float], float]:
    """``count`` POSTs from ``clients`` clients at once: each request's latency, and the wall time of all."""
    latencies: list[float] = []
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            latencies.extend(post(running, body) for _ in range(n))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(count // clients,)) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return latencies, time.perf_counter() - start


def ping_during_long_request(running: DrumServer) -> tuple[float, float]:
    """The slowest ``/ping/`` answer while one long request runs (after a short one, which tells
    ``handle_request`` that this model is not quick), and how long that request took."""
    response, seconds, pings = pings_during_a_long_request(running.port, units=2.0)
    if response.status != 200:
        raise RuntimeError(f"{running.url} answered {response.status}: {response.body[:300]!r}")
    return max(pings), seconds


def workers(report: Report, models: dict[str, Path], workdir: Path, requests_per_size: int) -> None:
    report.heading(
        "drum server: the gunicorn worker",
        "The logistic regression behind two servers taking turns in blocks of "
        f"{BLOCK} requests, {requests_per_size} requests per server, size and client count: *sync (DRUM's "
        "default)*, a plain `drum server`; *image default*, the same started through `start_server.sh` "
        "(`dr_onnx_hooks.workers.BufferingWorker`, 1000 connections per worker, 30 s idle bound: an event loop reads "
        "each request whole before gunicorn's sync handling gets it, and hands it to the worker's native thread "
        "once its body is over 64 KiB or the last small request was slow). Every server has the environment's "
        "`custom.py` and `custom_flask.py`. "
        "Several clients are threads of this process, on the same CPUs.",
    )
    bodies = {1: csv_bytes(frame_of(1, seed=7)), 100: csv_bytes(frame_of(100, seed=9))}
    model = (models["logreg"] / "model.onnx").read_bytes()
    servers = start_worker_servers(model, workdir)
    results: dict[tuple[str, int, int], tuple[list[float], float, float]] = {}
    try:
        for size, body in bodies.items():
            for clients in CLIENTS:
                for _ in range(max(1, requests_per_size // BLOCK)):
                    for name, running in servers.items():
                        time.sleep(SPIN_TAIL)
                        before = worker_cpu(running)
                        latencies, wall = timed_block(running, body, clients, BLOCK)
                        used = worker_cpu(running) - before
                        old = results.get((name, size, clients), ([], 0.0, 0.0))
                        results[name, size, clients] = (old[0] + latencies, old[1] + wall, old[2] + used)
    finally:
        for running in servers.values():
            running.stop()
    rows = []
    rate: dict[tuple[str, int, int], float] = {}
    for (name, size, clients), (latencies, wall, used) in results.items():
        rate[name, size, clients] = len(latencies) / wall
        rows.append([name, f"{size:,}", str(clients), f"{rate[name, size, clients]:.0f}",
                     ms(float(np.median(latencies))), ms(float(np.percentile(latencies, 99))),
                     ms(used / len(latencies))])
        report.row(rows[-1])
    report.table(["worker", "rows per request", "clients", "requests/s", "p50 ms", "p99 ms",
                  "worker CPU ms per request"], rows)
    for size in bodies:
        for clients in CLIENTS:
            report.target(
                f"server: req/s image default / sync worker, {size:,}-row requests, {clients} client(s)",
                rate["image default", size, clients] / rate[SYNC, size, clients], 1.0,
                at_least=True,
            )
    slow = start_worker_servers(slow_graph(), workdir)
    try:
        pings = {name: ping_during_long_request(running) for name, running in slow.items()}
    finally:
        for running in slow.values():
            running.stop()
    report.table(["worker", "the long request, s", "slowest /ping/ meanwhile, ms"],
                 [[name, f"{took:.1f}", ms(slowest)] for name, (slowest, took) in pings.items()])
    for name, (slowest, took) in pings.items():
        report.row([name, f"request {took:.1f} s", f"slowest /ping/ {ms(slowest)} ms"])
    bare = bare_workers(report, workdir, requests_per_size)
    if any(rate["image default", s, c] < rate[SYNC, s, c] for s in bodies for c in CLIENTS):
        report.notes.append(
            "Worker: the image's worker adds the event loop's share to sync's work per connection (a poll "
            "before the request is read, its bytes kept for gunicorn's parser, the connection's bookkeeping); "
            f"serving an application that does nothing, {bare} (bare worker table). Worker CPU per request "
            + ", ".join(
                f"{ms(results['image default', s, 1][2] / len(results['image default', s, 1][0]))} against "
                f"{ms(results[SYNC, s, 1][2] / len(results[SYNC, s, 1][0]))} ms at {row_count(s)}"
                for s in bodies
            )
            + " (sync), in exchange for serving other connections while some stall (tests/server/"
            "test_stalled_clients.py)."
        )

