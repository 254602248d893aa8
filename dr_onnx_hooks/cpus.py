"""How many CPUs one model session may use: the container's CPUs shared by DRUM's server workers.

onnxruntime sizes its thread pool from the machine's cores, not from the container's CPU quota
and not knowing that every gunicorn worker loads its own session: with 4 workers on a 2-CPU
quota, each would start a pool as large as the host, and the threads fight over the quota.

* Usable CPUs: the CPUs this process may run on (``os.sched_getaffinity``), capped by the cgroup
  CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), rounded down: a
  pool larger than the quota gets throttled in the middle of an operator.
* Server workers: as DRUM's ``gunicorn.conf.py`` counts them: the ``CUSTOM_MODEL_WORKERS``
  runtime parameter (or variable), else ``MAX_WORKERS``, else 1; values outside 1..199 count as 1.
"""

import logging
import math
import os
from pathlib import Path

from .params import Environ, read_int

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_ROOT = Path("/proc")
V1_CPU_FOLDERS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")
GUNICORN_ARGS = "DRUM_GUNICORN_DRUM_ARGS"  # set by DRUM before it execs into the gunicorn master
MAX_SERVER_WORKERS = 199  # DRUM ignores larger counts


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPUs the cgroup quota allows (quota / period), or None when there is no quota or no cgroup file."""
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota_text, period_text = v2.read_text().split()[:2]
            return None if quota_text == "max" else int(quota_text) / int(period_text)
        for folder in V1_CPU_FOLDERS:
            quota_file = root / folder / "cpu.cfs_quota_us"
            if quota_file.is_file():
                quota = int(quota_file.read_text())
                period = int((root / folder / "cpu.cfs_period_us").read_text())
                return None if quota <= 0 else quota / period
    except (OSError, ValueError) as exc:
        logger.debug("cgroup CPU quota unreadable under %s (%s); using the CPU affinity only", root, exc)
    return None


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may use: its CPU affinity, capped by the cgroup quota rounded down, at least 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cpus = min(cpus, max(1, math.floor(limit)))
    return cpus


def server_environ(environ: Environ = os.environ, proc: Path = PROC_ROOT) -> Environ:
    """The environment DRUM's server counted its workers in.

    DRUM 1.18.1's gunicorn workers set ``MAX_WORKERS=1`` and drop the ``CUSTOM_MODEL_WORKERS``
    runtime parameter before they load the model (``post_worker_init``), so inside a worker the
    count is read from the environment of the gunicorn master, the worker's parent process.
    """
    if GUNICORN_ARGS not in environ:
        return environ
    try:
        raw = (proc / str(os.getppid()) / "environ").read_bytes()
    except OSError as exc:
        logger.debug("gunicorn master's environment unreadable (%s); counting workers from our own", exc)
        return environ
    parent: dict[str, str] = dict(
        entry.split("=", 1) for entry in raw.decode(errors="replace").split("\0") if "=" in entry
    )
    return parent if parent.get(GUNICORN_ARGS) == environ[GUNICORN_ARGS] else environ


def server_workers(environ: Environ) -> int:
    """DRUM's server worker processes, counted as DRUM counts them."""
    for name in ("CUSTOM_MODEL_WORKERS", "MAX_WORKERS"):
        workers = read_int(name, minimum=0, environ=environ)
        if workers is not None:
            return workers if 0 < workers <= MAX_SERVER_WORKERS else 1
    return 1


def default_intra_op_threads(cgroup_root: Path = CGROUP_ROOT, environ: Environ = os.environ) -> int:
    """The usable CPUs divided among DRUM's server workers, at least 1 thread."""
    return max(1, usable_cpus(cgroup_root) // server_workers(server_environ(environ)))
