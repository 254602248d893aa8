"""Threads per session: the container's usable CPUs (affinity, cgroup v1/v2 quota) over DRUM's workers."""

import json
import os
from pathlib import Path

import pytest

from dr_onnx_hooks.cpus import cgroup_cpu_limit, default_intra_op_threads, server_environ, server_workers, usable_cpus

GUNICORN = {"DRUM_GUNICORN_DRUM_ARGS": "drum server --code-dir /opt/code", "MAX_WORKERS": "1"}


@pytest.fixture(autouse=True)
def eight_cpus(monkeypatch):
    """This process may run on 8 CPUs, whatever the machine running the tests has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)


def v2(root: Path, cpu_max: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cpu.max").write_text(cpu_max + "\n")
    return root


def v1(root: Path, quota: int, period: int = 100_000, folder: str = "cpu") -> Path:
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (root / folder / "cpu.cfs_period_us").write_text(f"{period}\n")
    return root


def workers_param(count) -> dict:
    return {"MLOPS_RUNTIME_PARAM_CUSTOM_MODEL_WORKERS": json.dumps({"type": "numeric", "payload": count})}


@pytest.mark.parametrize("cpu_max, limit", [("200000 100000", 2.0), ("150000 100000", 1.5), ("max 100000", None)])
def test_cgroup_v2_quota(tmp_path, cpu_max, limit):
    assert cgroup_cpu_limit(v2(tmp_path, cpu_max)) == limit


@pytest.mark.parametrize("folder", ["cpu", "cpu,cpuacct", "cpuacct,cpu"])
def test_cgroup_v1_quota(tmp_path, folder):
    assert cgroup_cpu_limit(v1(tmp_path, 300_000, folder=folder)) == 3.0


def test_cgroup_v1_without_quota(tmp_path):
    assert cgroup_cpu_limit(v1(tmp_path, -1)) is None


def test_no_cgroup_files_or_unreadable_ones_mean_no_quota(tmp_path):
    assert cgroup_cpu_limit(tmp_path) is None
    assert cgroup_cpu_limit(v2(tmp_path / "bad", "lots")) is None


@pytest.mark.parametrize("cpu_max, cpus", [
    ("max 100000", 8), ("400000 100000", 4), ("250000 100000", 2), ("50000 100000", 1), ("1600000 100000", 8),
])
def test_usable_cpus_is_the_affinity_capped_by_the_quota_rounded_down(tmp_path, cpu_max, cpus):
    assert usable_cpus(v2(tmp_path, cpu_max)) == cpus


@pytest.mark.parametrize("env, workers", [
    ({}, 1),
    (workers_param(3), 3),
    ({"CUSTOM_MODEL_WORKERS": "2"}, 2),
    ({"MAX_WORKERS": "4"}, 4),
    ({**workers_param(2), "MAX_WORKERS": "4"}, 2),  # as DRUM's gunicorn.conf.py: the runtime parameter first
    ({"MAX_WORKERS": "0"}, 1),  # DRUM ignores counts outside 1..199
    (workers_param(500), 1),
])
def test_server_workers_are_counted_as_drum_counts_them(env, workers):
    assert server_workers(env) == workers


@pytest.mark.parametrize("cpu_max, env, threads", [
    ("max 100000", {}, 8),
    ("400000 100000", workers_param(2), 2),
    ("400000 100000", {"MAX_WORKERS": "3"}, 1),
    ("100000 100000", {"MAX_WORKERS": "4"}, 1),  # at least one thread
])
def test_default_threads_are_usable_cpus_over_workers(tmp_path, cpu_max, env, threads):
    assert default_intra_op_threads(v2(tmp_path, cpu_max), env) == threads


def fake_parent(proc: Path, env: dict) -> Path:
    folder = proc / str(os.getppid())
    folder.mkdir(parents=True)
    (folder / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()) + b"\0")
    return proc


def test_a_gunicorn_worker_counts_workers_in_the_masters_environment(tmp_path):
    """DRUM's workers overwrite MAX_WORKERS with 1 and drop CUSTOM_MODEL_WORKERS before loading the model."""
    proc = fake_parent(tmp_path, {**GUNICORN, "MAX_WORKERS": "4", **workers_param(2)})
    assert server_workers(server_environ(GUNICORN, proc)) == 2


def test_a_parent_that_is_not_our_gunicorn_master_is_not_read(tmp_path):
    proc = fake_parent(tmp_path, {"DRUM_GUNICORN_DRUM_ARGS": "another server", "MAX_WORKERS": "4"})
    assert server_environ(GUNICORN, proc) is GUNICORN


def test_outside_gunicorn_or_without_proc_our_own_environment_counts(tmp_path):
    env = {"MAX_WORKERS": "2"}
    assert server_environ(env, tmp_path) is env
    assert server_environ(GUNICORN, tmp_path / "missing") is GUNICORN
