"""Helpers that drive the real ``drum`` CLI and ``drum server`` as subprocesses.

A plain module (not a conftest) so the container tests can reuse it. Nothing here imports DRUM:
every run goes through the ``drum`` console script installed next to the running interpreter.
That script is ``datarobot_drum.drum.entry_point:run_drum_server``, which is what picks gunicorn
for ``drum server`` in DRUM 1.18.1; ``python -m datarobot_drum.drum.main server`` would bypass
that choice and always run the werkzeug server, so it is not used here.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import requests

from helpers import csv_bytes, stray

DRUM = Path(sys.executable).parent / "drum"
CUSTOM_PY = "from dr_onnx_hooks import load_model, score\n"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without settings that would steer DRUM or the hooks (``helpers.stray``),
    plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not stray(k)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def write_code_dir(folder: Path, model: bytes | None = None, model_name: str = "model.onnx") -> Path:
    """A model folder as DataRobot gets it: the one-line ``custom.py`` and, if given, the model file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "custom.py").write_text(CUSTOM_PY)
    if model is not None:
        (folder / model_name).write_bytes(model)
    return folder


def label_args(
    positive: str | None = None, negative: str | None = None, class_labels: Sequence[str] = ()
) -> list[str]:
    """The label flags of ``drum score`` / ``drum server``."""
    args: list[str] = []
    if positive is not None:
        args += ["--positive-class-label", str(positive)]
    if negative is not None:
        args += ["--negative-class-label", str(negative)]
    if class_labels:
        args += ["--class-labels", *map(str, class_labels)]
    return args


def target_label_args(target_type: str, labels: Sequence[str]) -> list[str]:
    """The label flags for ``target_type``, with binary ``labels`` given as (negative, positive)."""
    if target_type == "binary":
        return label_args(positive=labels[1], negative=labels[0])
    return label_args(class_labels=labels) if target_type == "multiclass" else []


def run_drum_score(
    code_dir: Path, input_csv: Path, output_csv: Path, target_type: str, labels: Sequence[str] = (),
    env: Mapping[str, str] | None = None, timeout: float = 180,
) -> subprocess.CompletedProcess:
    """``drum score`` as a subprocess; the caller checks ``returncode``, ``stdout`` and ``stderr``."""
    cmd = [
        str(DRUM), "score", "--code-dir", str(code_dir), "--input", str(input_csv), "--output", str(output_csv),
        "--target-type", target_type, *labels,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=clean_env(env))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DrumServer:
    """A real ``drum server`` on a free local port; use as a context manager or call start()/stop().

    DRUM 1.18.1 execs into a gunicorn master under the same pid, so stopping sends SIGTERM to that
    pid (gunicorn's graceful shutdown) and, if it lingers, SIGKILL to the process group it leads.
    """

    def __init__(
        self, code_dir: Path, target_type: str, labels: Sequence[str] = (), log_dir: Path | None = None,
        env: Mapping[str, str] | None = None, extra_args: Sequence[str] = (),
    ) -> None:
        self.code_dir = Path(code_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = Path(log_dir) if log_dir else self.code_dir.parent
        self.cmd = [
            str(DRUM), "server", "--code-dir", str(self.code_dir), "--address", f"127.0.0.1:{self.port}",
            "--target-type", target_type, *labels, *extra_args,
        ]
        self.env = clean_env(env)
        self.process: subprocess.Popen | None = None
        self.log_path = self.log_dir / f"drum-server-{self.port}.log"

    def start(self, timeout: float = 60, ready: Sequence[int] = (200,)) -> "DrumServer":
        """Start and wait until ``/ping/`` answers one of ``ready`` (513: DRUM's error server)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        try:
            self.wait_ready(timeout, ready)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float, ready: Sequence[int] = (200,)) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"drum server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/ping/", timeout=2).status_code in ready:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"drum server not answering /ping/ after {timeout} s:\n{self.log_tail()}")

    def stop(self, grace: float = 15) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the session this Popen started, and only it
            except ProcessLookupError:
                pass
            process.wait(10)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def get(self, route: str, **kwargs) -> requests.Response:
        return requests.get(self.url + route, timeout=kwargs.pop("timeout", 30), **kwargs)

    def post(
        self, body: bytes, content_type: str | None = "text/csv", route: str = "/predict/", timeout: float = 60,
        **kwargs,
    ) -> requests.Response:
        """POST ``body`` to ``route`` as ``content_type`` (None: no Content-Type header)."""
        headers = {"Content-Type": content_type} if content_type else {}
        return requests.post(self.url + route, data=body, headers=headers, timeout=timeout, **kwargs)

    def predict_csv(self, frame_or_bytes, multipart: bool = False, route: str = "/predict/") -> requests.Response:
        """POST a CSV to ``route``: raw body with ``Content-Type: text/csv``, or multipart field ``X``."""
        body = frame_or_bytes if isinstance(frame_or_bytes, bytes) else csv_bytes(frame_or_bytes)
        if multipart:
            return requests.post(self.url + route, files={"X": ("x.csv", body)}, timeout=60)
        return self.post(body, route=route)

    def __enter__(self) -> "DrumServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    request, code_dir: Path, target_type: str, labels: Sequence[str] = (),
    env: Mapping[str, str] | None = None, timeout: float = 60,
) -> DrumServer:
    """A started ``DrumServer`` that ``request`` (a fixture's, of any scope) stops when it is done;
    its log goes beside ``code_dir``."""
    server = DrumServer(code_dir, target_type, labels, env=env)
    request.addfinalizer(server.stop)
    return server.start(timeout=timeout)
