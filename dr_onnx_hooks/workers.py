"""The image's gunicorn worker: DRUM's gevent worker, with every client connection's waits bounded.

``start_server.sh`` serves with it (``--worker-class dr_onnx_hooks.workers.IdleBoundGeventWorker``
in ``GUNICORN_CMD_ARGS``, which gunicorn applies after DRUM's ``gunicorn.conf.py``) unless DRUM's
``DRUM_GUNICORN_WORKER_CLASS`` runtime parameter names a class.

* **Many connections per worker.** A gevent worker serves up to ``worker_connections`` connections
  at once, each in a greenlet: a client that sends half a body and goes quiet holds one greenlet,
  not the worker (DRUM's default sync worker serves one connection at a time, so three such
  clients stall every good request for up to the worker timeout, 600 s).
* **Bounded waits** (``DR_ONNX_IDLE_TIMEOUT``, seconds, default 30; 0: no bound). Every receive and
  send on a client connection waits at most that long for the next byte: in the request line and
  headers, in the body, and while a response is written to a client that does not read it. Past
  it the connection is closed (in the body, with the 400 ``custom_flask.py`` answers when a body
  cannot be read). DRUM's ``DrumGeventWorker``, which this extends, only drops a connection that
  sends no *first* byte within ``DRUM_GUNICORN_FIRST_BYTE_TIMEOUT`` (2 s); that check is kept.
  Together with ``worker_connections`` this bounds what hanging clients can hold: at most that
  many connections per worker, each for at most the bound after its last byte. Once the worker
  stops (SIGTERM), requests in progress finish, and a connection that has waited ``SHUTDOWN_IDLE``
  (5 s) on its client is closed, so that quiet clients do not hold the shutdown for the bound.
* **A native thread for the work** (``offload``, ``handle_request``): ``offload`` runs a function
  in one native thread per worker (gevent's ``ThreadPool`` of size 1) while the calling greenlet
  waits; the event loop keeps running meanwhile: ``/ping/`` is answered, other connections are
  read and timed, gunicorn's heartbeat goes on. ``handle_request`` uses it for a request whose
  body is read, unless the body is small and the last small request was quick (the hand-over to
  the thread and back costs about 0.05-0.1 ms). One thread per worker keeps the scoring serial, as
  with the sync worker, so onnxruntime's thread count (``DR_ONNX_INTRA_OP_THREADS``, usable CPUs ÷
  workers) still describes what runs at once. Without this worker (``drum score``, a sync worker,
  DRUM's own gevent worker) both are plain calls.
"""

import _thread
import errno
import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .params import read_int

logger = logging.getLogger(__name__)

IDLE_TIMEOUT_SETTING = "DR_ONNX_IDLE_TIMEOUT"
DEFAULT_IDLE_TIMEOUT = 30

T = TypeVar("T")

# Per process, set when this process's worker starts serving: the pool the hooks' CPU-bound part
# runs in, and the native thread running the worker's event loop (the one that hands work to it).
_pool: Any = None
_loop_thread: int | None = None
# Client connections waiting for the client (to send, or to take what is sent), since when.
_waiting: "weakref.WeakKeyDictionary[Any, float]" = weakref.WeakKeyDictionary()

SHUTDOWN_IDLE = 5.0  # once the worker stops, a connection that waits on its client this long is closed


def _native_get_ident() -> Callable[[], int]:
    """The OS thread's id function (gevent's patching makes ``threading.get_ident`` name the greenlet)."""
    try:
        from gevent import monkey

        if monkey.is_module_patched("_thread"):
            return monkey.get_original("_thread", "get_ident")
    except ImportError:
        pass
    return _thread.get_ident


_native_ident = _native_get_ident()  # looked up again when the worker starts, after gevent's patching


def offload(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``, in this worker's native scoring thread when there is one.

    Under ``IdleBoundGeventWorker`` the calling greenlet waits while the event loop serves other
    connections; anywhere else (no such worker, or a call from another thread) it is a plain call.
    The function's exception, if any, is raised here.
    """
    if not _on_loop():
        return function(*args, **kwargs)
    return _pool.apply(function, args, kwargs)


def _on_loop() -> bool:
    """Whether this is the event loop's thread of an ``IdleBoundGeventWorker`` (one with a native thread)."""
    return _pool is not None and _native_ident() == _loop_thread


INLINE_BODY_BYTES = 1 << 16  # a body this small parses in well under a millisecond
QUICK_SECONDS = 0.01  # a request that takes less blocks the event loop for less than the hand-over is worth


class _Pace:
    """How long the last small request took to handle, per worker process."""

    last_small = 0.0
    busy = 0  # requests handed to the native thread and not back yet (counted on the loop's thread)


def expect_request_seconds(seconds: float | None) -> None:
    """Start ``handle_request``'s pace from what the model took at load (its warm-up run), so that
    the first request to a slow model does not hold the event loop either."""
    if seconds is not None:
        _Pace.last_small = seconds


def handle_request(app: Callable[..., T], environ: dict, start_response: Callable, body_bytes: int) -> T:
    """``app(environ, start_response)`` for a request whose body (``body_bytes``) is already read,
    where it costs least: on the event loop when the body is small, the native thread is idle and
    the last small request took under ``QUICK_SECONDS`` to handle (the hand-over to the thread and
    back costs about 0.05-0.1 ms, a few per cent of a one-row request); in the native thread
    (``offload``) otherwise, so that a slow model or a large body does not hold the loop. Without
    ``IdleBoundGeventWorker`` it is a plain call.
    """
    if not _on_loop():
        return app(environ, start_response)
    small = body_bytes <= INLINE_BODY_BYTES

    def timed() -> T:
        started = time.perf_counter()
        try:
            return app(environ, start_response)
        finally:
            if small:
                _Pace.last_small = time.perf_counter() - started

    if small and not _Pace.busy and _Pace.last_small < QUICK_SECONDS:
        return timed()
    _Pace.busy += 1
    try:
        return offload(timed)
    finally:
        _Pace.busy -= 1


class _Bodies:
    """Bytes of request bodies held in memory by this process's requests in progress."""

    held = 0
    waiting = 0  # requests waiting for others to release theirs
    changed: Any = None  # a threading.Condition, made when first needed (gevent's, under the worker)


@contextmanager
def body_reserved(nbytes: int, limit: int) -> Iterator[None]:
    """Hold ``nbytes`` of this process's body budget (``limit``, DR_ONNX_MAX_BODY_BYTES) while a request
    reads its body and is handled: wait while other requests hold so much that this one would pass
    ``limit`` (one request alone always goes ahead). A sync worker handles one request at a time and
    never waits; under the gevent worker, which reads many bodies at once, the bodies in memory
    together stay within the limit that the memory budget gives one body, and a waiting client's
    bytes stay in the kernel's buffers (TCP pushes back) instead of the worker's memory.
    """
    if _Bodies.changed is None:
        # a plain lock: gevent's patched RLock is Python code, a plain Lock is not (two per request)
        _Bodies.changed = threading.Condition(threading.Lock())
    changed = _Bodies.changed
    with changed:
        if _Bodies.held and _Bodies.held + nbytes > limit:
            _Bodies.waiting += 1
            try:
                changed.wait_for(lambda: _Bodies.held == 0 or _Bodies.held + nbytes <= limit)
            finally:
                _Bodies.waiting -= 1
        _Bodies.held += nbytes
    try:
        yield
    finally:
        with changed:
            _Bodies.held -= nbytes
            if _Bodies.waiting:
                changed.notify_all()


def idle_timeout(environ=os.environ) -> float | None:
    """``DR_ONNX_IDLE_TIMEOUT`` in seconds, None for no bound (0)."""
    return read_int(IDLE_TIMEOUT_SETTING, DEFAULT_IDLE_TIMEOUT, minimum=0, environ=environ) or None


class ClientIdle(TimeoutError):
    """A client connection sent or read nothing for the idle bound.

    A ``TimeoutError``, as gunicorn expects from a socket that timed out, whose ``errno`` makes
    gunicorn close the connection quietly (it would log a traceback for every stalled client);
    the closing is logged once, in one line, here.
    """

    def __init__(self, seconds: float | None, doing: str) -> None:
        super().__init__(errno.ENOTCONN, f"nothing {doing} for {seconds:g} s ({IDLE_TIMEOUT_SETTING})")

    def __str__(self) -> str:
        return self.strerror or ""


def _bounded_socket_class(seconds: float | None) -> type:
    """A subclass of gevent's socket, with the same layout, whose blocking mode waits at most ``seconds``."""
    from gevent import socket as gsocket

    class IdleBoundSocket(gsocket.socket):
        __slots__ = ()  # the layout of gevent's socket: an accepted connection takes this class in place
        idle_timeout = seconds

        def setblocking(self, flag: bool) -> None:
            # gunicorn puts client connections in blocking mode (no timeout); here blocking means bounded.
            if flag:
                self.settimeout(self.idle_timeout)
            else:
                super().setblocking(flag)

        def _idle(self, doing: str) -> TimeoutError:
            seconds = self.gettimeout()
            if seconds != self.idle_timeout:  # a shorter wait gunicorn set itself (draining a closed request)
                return TimeoutError("timed out")
            try:
                host, port = self.getpeername()[:2]
                peer = f"{host}:{port}"
            except (OSError, TypeError, ValueError):
                peer = "a client"
            idle = ClientIdle(seconds, doing)
            logger.warning("Closing the connection from %s: %s.", peer, idle)
            return idle

        def _waited(self, call: Callable[..., T], doing: str, *args: Any, **kwargs: Any) -> T:
            """``call`` (the socket's own recv/send), with its wait for the client bounded."""
            _waiting[self] = time.monotonic()
            try:
                return call(*args, **kwargs)
            except ClientIdle:
                raise
            except TimeoutError:
                raise self._idle(doing) from None
            finally:
                _waiting.pop(self, None)

        def recv(self, *args: Any, **kwargs: Any) -> bytes:
            return self._waited(super().recv, "received", *args, **kwargs)

        def recv_into(self, *args: Any, **kwargs: Any) -> int:
            return self._waited(super().recv_into, "received", *args, **kwargs)

        def send(self, *args: Any, **kwargs: Any) -> int:
            return self._waited(super().send, "read by the client", *args, **kwargs)

        def sendall(self, data: Any, flags: int = 0) -> None:
            # gevent bounds a whole sendall by the timeout; here each wait for the client to take more
            # bytes is bounded, so a large response to a slow client that keeps reading goes through.
            view = memoryview(data).cast("B")
            while view:
                view = view[self.send(view, flags):]

    return IdleBoundSocket


def _has_bytes(client: Any) -> bool:
    """Whether bytes from the client are waiting on the connection (a look that never waits)."""
    try:
        return bool(client._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except (OSError, AttributeError):
        return False


def _worker_class() -> type:
    from datarobot_drum.drum.gunicorn.workers import DrumGeventWorker

    class IdleBoundGeventWorker(DrumGeventWorker):
        """DRUM's gevent worker; client connections wait at most ``DR_ONNX_IDLE_TIMEOUT`` for a byte,
        and the hooks' CPU-bound part runs in one native thread (``offload``)."""

        def init_process(self) -> None:
            self.idle_timeout = idle_timeout()  # a bad value fails the worker's boot, naming the setting
            self.bounded_socket = _bounded_socket_class(self.idle_timeout)
            super().init_process()  # patches, reinitialises the hub, loads the app (DRUM loads the model), runs

        def run(self) -> None:
            global _pool, _loop_thread, _native_ident
            from gevent.threadpool import ThreadPool

            _native_ident = _native_get_ident()
            _pool, _loop_thread = ThreadPool(1), _native_ident()
            self.log.info(
                "dr_onnx_hooks worker: gevent, up to %s connections, idle bound %s, a native thread for long requests",
                self.worker_connections, f"{self.idle_timeout:g} s" if self.idle_timeout else "none",
            )
            import gevent

            gevent.spawn(self.close_idle_when_stopping)
            try:
                super().run()
            finally:
                pool, _pool = _pool, None
                pool.kill()

        def close_idle_when_stopping(self) -> None:
            """Once the worker stops (SIGTERM), requests in progress finish (up to gunicorn's graceful
            timeout), but a client that has gone quiet is not waited for up to the idle bound: its
            connection is closed after ``SHUTDOWN_IDLE`` seconds without a byte, so the server exits
            within a container runtime's stop timeout (Docker's is 10 s)."""
            import gevent

            while self.alive:
                gevent.sleep(0.5)
            bound = min(self.idle_timeout or SHUTDOWN_IDLE, SHUTDOWN_IDLE)
            while True:
                now = time.monotonic()
                for client, since in list(_waiting.items()):
                    if now - since >= bound:
                        _waiting.pop(client, None)
                        logger.warning("Closing a connection idle for %.0f s or more: the server is stopping.", bound)
                        try:
                            client.shutdown(socket.SHUT_RDWR)  # its wait ends as if the client had left
                        except OSError:
                            pass
                gevent.sleep(0.25)

        def handle(self, listener: Any, client: Any, addr: Any) -> None:
            client.__class__ = self.bounded_socket  # only methods added: cheaper than a new socket object
            if self.first_byte_timeout and _has_bytes(client):
                # DRUM's first-byte wait is for connections that have sent nothing yet; skipping it
                # for one whose request is already here saves a trip through the event loop.
                super(DrumGeventWorker, self).handle(listener, client, addr)
            else:
                super().handle(listener, client, addr)

    IdleBoundGeventWorker.__module__ = __name__
    IdleBoundGeventWorker.__qualname__ = "IdleBoundGeventWorker"
    return IdleBoundGeventWorker


def __getattr__(name: str) -> Any:
    # The worker class imports gevent and DRUM only when gunicorn asks for it, so that the hooks
    # (which import ``offload``) never import gevent, whose patching must come first in a worker.
    if name == "IdleBoundGeventWorker":
        worker = _worker_class()
        globals()[name] = worker
        return worker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
