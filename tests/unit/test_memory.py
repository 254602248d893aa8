"""Request limits fit the container's memory: cgroup v2 / v1 limit, shared by DRUM's workers."""

import json

from dr_onnx_hooks.memory import BYTES_PER_CELL, WORKER_BASELINE, container_memory, request_budget
from dr_onnx_hooks.settings import DEFAULT_MAX_BODY_BYTES, Settings

GIB = 2**30


def cgroup(tmp_path, limit: str, version: int = 2):
    root = tmp_path / "cgroup"
    folder = root if version == 2 else root / "memory"
    folder.mkdir(parents=True)
    (folder / ("memory.max" if version == 2 else "memory.limit_in_bytes")).write_text(limit + "\n")
    return root


def test_the_limit_is_read_from_cgroup_v2_and_v1_and_unlimited_falls_back_to_meminfo(tmp_path):
    assert container_memory(cgroup(tmp_path / "a", str(GIB))) == (GIB, str(tmp_path / "a" / "cgroup" / "memory.max"))
    assert container_memory(cgroup(tmp_path / "b", str(2 * GIB), version=1))[0] == 2 * GIB
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       4194304 kB\nMemFree: 1 kB\n")
    assert container_memory(cgroup(tmp_path / "c", "max"), meminfo) == (4 * GIB, str(meminfo))
    assert container_memory(cgroup(tmp_path / "d", "9223372036854771712", version=1), meminfo)[0] == 4 * GIB


def test_one_gib_and_two_workers_give_each_request_what_is_left_of_half(tmp_path):
    env = {"MLOPS_RUNTIME_PARAM_CUSTOM_MODEL_WORKERS": json.dumps({"type": "numeric", "payload": 2})}
    budget = request_budget(env, cgroup(tmp_path, str(GIB)))
    assert budget.request_bytes == GIB // 2 - WORKER_BASELINE and "over 2 worker(s)" in budget.source
    settings = Settings.read(env, tmp_path / "cgroup")
    assert settings.limits.cells == budget.request_bytes // BYTES_PER_CELL < 50_000_000
    assert settings.max_body_bytes == budget.body_bytes() < DEFAULT_MAX_BODY_BYTES
    assert f"{settings.limits.cells} cells ({GIB} bytes from" in settings.describe()


def test_explicit_settings_win_over_the_memory_defaults(tmp_path):
    env = {"DR_ONNX_MAX_CELLS": "60000000", "DR_ONNX_MAX_BODY_BYTES": "123"}
    settings = Settings.read(env, cgroup(tmp_path, str(GIB)))
    assert (settings.limits.cells, settings.max_body_bytes) == (60_000_000, 123)
