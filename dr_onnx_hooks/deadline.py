"""A time limit on ``session.run``: past it, onnxruntime stops at its next operator.

onnxruntime checks ``RunOptions.terminate`` between operators, so a watcher that sets it when the
time is up stops a run cleanly; the run raises, the caller answers an error naming the setting,
and the server worker lives on instead of being killed by its own timeout.

The watcher is a native thread even under gevent's monkey-patching: ``session.run`` holds the
worker's only OS thread, so a greenlet timer would never wake while the run lasts.
"""

import importlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import onnxruntime as ort


def _native(module: str, name: str) -> Any:
    """``module.name`` as the interpreter made it, not as gevent patched it."""
    try:
        from gevent import monkey

        if monkey.is_module_patched(module):
            return monkey.get_original(module, name)
    except ImportError:
        pass
    return getattr(importlib.import_module(module), name)


_start_thread = _native("_thread", "start_new_thread")
_new_lock = _native("_thread", "allocate_lock")
_sleep = _native("time", "sleep")


class _Watcher:
    """One native thread per process that stops runs past their deadline; idle while none runs.

    Registering a run is a dict entry under a lock (microseconds), so the limit costs a request
    nothing measurable; the thread checks every ``TICK`` seconds while runs are registered.
    """

    TICK = 0.05

    def __init__(self) -> None:
        self._pid = -1

    def _start(self) -> None:  # in each process: a forked server worker inherits no thread
        self._pid = os.getpid()
        self._guard = _new_lock()
        self._wake = _new_lock()
        self._wake.acquire()
        self._runs: dict[int, tuple[float, ort.RunOptions]] = {}
        _start_thread(self._watch, ())

    def add(self, options: ort.RunOptions, seconds: float) -> None:
        if self._pid != os.getpid():
            self._start()
        with self._guard:
            self._runs[id(options)] = (time.monotonic() + seconds, options)
            if self._wake.locked():
                self._wake.release()

    def remove(self, options: ort.RunOptions) -> None:
        with self._guard:
            self._runs.pop(id(options), None)

    def _watch(self) -> None:
        while True:
            with self._guard:
                now = time.monotonic()
                for key, (deadline, options) in list(self._runs.items()):
                    if deadline <= now:
                        options.terminate = True
                        del self._runs[key]
                idle = not self._runs
            if idle:
                self._wake.acquire()  # until a run is added
            else:
                _sleep(self.TICK)


_watcher = _Watcher()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[ort.RunOptions | None]:
    """``RunOptions`` whose ``terminate`` is set after ``seconds`` (None or 0: no limit, no options)."""
    if not seconds:
        yield None
        return
    options = ort.RunOptions()
    _watcher.add(options, seconds)
    try:
        yield options
    finally:
        _watcher.remove(options)


def timed_out(options: ort.RunOptions | None) -> bool:
    """Whether the run under ``options`` was stopped by its time limit."""
    return options is not None and options.terminate
