"""Fixtures for tests against the real image: a Docker engine (or a clear skip), the image built
from our Dockerfile once per session, and containers that are always removed."""

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import requests

from drum_helpers import free_port
from helpers import ROOT

IMAGE = os.environ.get("DR_ONNX_TEST_IMAGE", "dr-onnx-env:test")


def _docker_client() -> str | None:
    # Prefer the Debian client: another one earlier on PATH may lack the legacy builder.
    for candidate in (os.environ.get("DOCKER"), "/usr/bin/docker", shutil.which("docker")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(f"container tests need a Docker engine: {reason}")


@pytest.fixture(scope="session")
def docker() -> str:
    client = _docker_client()
    if client is None:
        _unavailable("no docker client found")
    probe = subprocess.run([client, "info"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        _unavailable(f"`{client} info` failed: {probe.stderr.strip()[:300]}")
    return client


@pytest.fixture(scope="session")
def image(docker: str) -> str:
    """Our Dockerfile built once; ``DR_ONNX_BASE_IMAGE`` names a local base image where no registry is reachable."""
    command = [docker, "build", "-t", IMAGE]
    if os.environ.get("DR_ONNX_BASE_IMAGE"):
        command += ["--build-arg", f"BASE_IMAGE={os.environ['DR_ONNX_BASE_IMAGE']}"]
    started = time.monotonic()
    build = subprocess.run(
        command + [str(ROOT)], capture_output=True, text=True, timeout=1800,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    assert build.returncode == 0, f"docker build failed:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    size = subprocess.run([docker, "image", "inspect", "-f", "{{.Size}}", IMAGE], capture_output=True, text=True)
    print(f"\nimage {IMAGE}: built in {time.monotonic() - started:.0f} s, {int(size.stdout) / 1e6:.0f} MB")
    return IMAGE


class Container:
    """One ``docker run -d`` of the image, published on a free loopback port."""

    def __init__(self, docker: str, image: str, env: dict[str, str], mounts: Sequence[str] = ()) -> None:
        self.docker = docker
        self.name = f"dr-onnx-test-{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args: list[str] = ["-d", "--name", self.name, "-p", f"127.0.0.1:{self.port}:8080"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        for mount in mounts:
            args += ["-v", mount]
        self.args = args + [image]
        self.started_at = 0.0

    def docker_cmd(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([self.docker, *args], capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
        return result

    def create(self) -> "Container":
        self.docker_cmd("create", *[a for a in self.args if a != "-d"])
        return self

    def start(self) -> "Container":
        self.started_at = time.monotonic()
        self.docker_cmd("start", self.name)
        return self

    def run(self) -> "Container":
        self.started_at = time.monotonic()
        self.docker_cmd("run", *self.args)
        return self

    def wait_ready(self, route: str = "/ping/", timeout: float = 90) -> float:
        """Seconds from start until ``route`` answers 200."""
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(f"container exited:\n{self.logs()[-3000:]}")
            try:
                if requests.get(self.url + route, timeout=2).status_code == 200:
                    return time.monotonic() - self.started_at
            except requests.RequestException:
                pass
            time.sleep(0.25)
        raise AssertionError(f"{route} did not answer within {timeout} s:\n{self.logs()[-3000:]}")

    def running(self) -> bool:
        state = self.docker_cmd("inspect", "-f", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def wait_exit(self, timeout: float = 90) -> int:
        result = self.docker_cmd("wait", self.name, timeout=timeout)
        return int(result.stdout.strip())

    def logs(self) -> str:
        result = self.docker_cmd("logs", self.name, check=False)
        return result.stdout + result.stderr

    def remove(self) -> None:
        self.docker_cmd("rm", "-f", self.name, check=False)


def _factory(docker: str, image: str, request) -> Callable[..., Container]:
    """``make(env, mounts)``: a Container removed when ``request``'s scope ends."""

    def make(env: dict[str, str], mounts: Sequence[str] = ()) -> Container:
        made = Container(docker, image, env, mounts)
        request.addfinalizer(made.remove)
        return made

    return make


@pytest.fixture
def container(docker, image, request):
    """A factory: ``container(env, mounts)`` returns a Container removed after the test."""
    return _factory(docker, image, request)


@pytest.fixture(scope="module")
def module_container(docker, image, request):
    """As ``container``, for module-scoped fixtures: its Containers are removed when the module's tests are done."""
    return _factory(docker, image, request)
