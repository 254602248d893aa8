"""Request limits from the container's memory, so that a request the limits accept cannot get a
server worker OOM-killed (and every request in flight on it lost).

* The container's memory: the cgroup limit (v2 ``memory.max``, v1
  ``memory/memory.limit_in_bytes``), else the machine's (``/proc/meminfo``).
* Each of DRUM's server workers (counted as ``cpus.server_workers`` counts them) gets an equal
  share, less ``WORKER_BASELINE`` for what a worker holds before any request (Python, DRUM,
  pandas, pyarrow, onnxruntime and a small model: about 250 MB measured). A model of hundreds of
  MB needs its limits set explicitly.
* A request needs about ``BYTES_PER_CELL`` per cell at its peak: measured with a 49-column float
  CSV through ``read_input_data`` and ``score``, about 25 bytes a cell on top of the body, which
  DRUM and our body guard each hold once (about 10 bytes a cell as CSV text).

The cell and body limits default to what fits in that share (never above the fixed defaults, which
apply when no limit is found); a setting given explicitly always wins.
"""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .cpus import CGROUP_ROOT, server_environ, server_workers
from .params import Environ

logger = logging.getLogger(__name__)

WORKER_BASELINE = 300 * 2**20
BYTES_PER_CELL = 48
BODY_SHARE = 0.25  # of a worker's request memory: the body is held about twice, then parsed
UNLIMITED = 2**60  # cgroup v1 writes a huge number for "no limit"
MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class MemoryBudget:
    """Bytes one worker may spend on one request, and where the figure comes from."""

    request_bytes: int
    source: str

    def cells(self) -> int:
        return max(1, self.request_bytes // BYTES_PER_CELL)

    def body_bytes(self) -> int:
        return max(1, int(self.request_bytes * BODY_SHARE))


def container_memory(root: Path = CGROUP_ROOT, meminfo: Path = MEMINFO) -> tuple[int, str] | None:
    """The memory this container may use, in bytes, and where that was read; None when unknown."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < UNLIMITED:
            return int(text), str(path)
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024, str(meminfo)
    except (OSError, ValueError, IndexError):
        pass
    return None


def request_budget(
    environ: Environ = os.environ, root: Path = CGROUP_ROOT, meminfo: Path = MEMINFO
) -> MemoryBudget | None:
    """What one request may use in one worker; None when the container's memory is unknown."""
    found = container_memory(root, meminfo)
    if found is None:
        return None
    total, source = found
    workers = server_workers(server_environ(environ))
    share = total // workers - WORKER_BASELINE
    return MemoryBudget(max(share, 64 * 2**20), f"{total} bytes from {source} over {workers} worker(s)")
