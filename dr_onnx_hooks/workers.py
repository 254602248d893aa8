"""The image's gunicorn worker: every request is read whole, without waiting on the client, before
it is handled; the response is written the same way.

``start_server.sh`` serves with it (``--worker-class dr_onnx_hooks.workers.BufferingWorker`` in
``GUNICORN_CMD_ARGS``, which gunicorn applies after DRUM's ``gunicorn.conf.py``) unless DRUM's
``DRUM_GUNICORN_WORKER_CLASS`` runtime parameter names a class.

* **Requests read whole first.** One event loop per worker (``selectors``) accepts connections and
  reads their bytes as they come, up to ``worker_connections`` connections at once (more wait in the
  listen backlog). A request goes to the application (gunicorn's own parser and response, as in its
  sync worker) only once all of it is in memory: the headers, and the body its ``Content-Length``
  announces or its last chunk. A client that sends half a body and goes quiet holds a buffer, never
  the worker (DRUM's default sync worker reads the body while handling it: three such clients stall
  every good request for up to the worker timeout, 600 s). A proxy such as nginx does the same in
  front of a sync server. The listening socket wakes the worker only once a connection has sent its
  first bytes (``TCP_DEFER_ACCEPT``, 1 s: a connection quiet that long is handed over anyway).
* **Responses written without waiting.** What the client's socket does not take at once is kept and
  sent by the loop as the client reads; the headers go out with the body, in one segment.
* **Bounded waits** (``DR_ONNX_IDLE_TIMEOUT``, seconds, default 30; 0: no bound). A connection that
  sends (or, for its response, takes) nothing for that long is closed: quietly in the request line
  and headers; in the body, with the 400 ``custom_flask.py`` answers when a body cannot be read. One
  that sends no first byte is closed after DRUM's ``DRUM_GUNICORN_FIRST_BYTE_TIMEOUT`` (2 s), as
  DRUM's gevent worker does. So hanging clients hold at most ``worker_connections`` connections per
  worker, each for at most the bound after its last byte. Once the worker stops (SIGTERM), it accepts
  nothing more, closes connections that have sent nothing, reads and answers the requests arriving,
  and closes one quiet for ``SHUTDOWN_IDLE`` (5 s), so that stalled clients do not hold the shutdown.
* **Bodies in memory bounded together.** A body over ``SMALL_BODY_BYTES`` (64 KiB) is read only
  once its size (``Content-Length``; a chunked one counts as ``DR_ONNX_MAX_BODY_BYTES``) fits, with
  the bodies already held, within ``DR_ONNX_MAX_BODY_BYTES``, the size the memory budget allows one
  request (one body alone always goes ahead); until then its bytes stay in the kernel, and TCP
  pushes back on the client. Smaller bodies are always read (at most ``worker_connections`` of
  them), so that an upload that announces a large body and stalls does not hold ordinary requests.
* **A native thread for long requests.** A request with a body is handled on the loop's thread when
  the body is small (64 KiB) and the last such request took under 10 ms; otherwise in one native
  thread per worker, while the loop goes on reading, answering requests without a body (``/ping/``)
  and beating gunicorn's heartbeat. One thread keeps the scoring serial, as in the sync worker, so
  onnxruntime's thread count (``DR_ONNX_INTRA_OP_THREADS``, usable CPUs ÷ workers) still describes
  what runs at once; a request waits for the one before it.
"""

import errno
import logging
import os
import queue
import selectors
import socket
import threading
import time
from collections import deque
from itertools import islice
from typing import Any

from gunicorn.workers.sync import SyncWorker

from .params import read_int

logger = logging.getLogger(__name__)

IDLE_TIMEOUT_SETTING = "DR_ONNX_IDLE_TIMEOUT"
DEFAULT_IDLE_TIMEOUT = 30
SHUTDOWN_IDLE = 5.0  # once the worker stops, a connection quiet this long is closed
SMALL_BODY_BYTES = 1 << 16  # parses in well under a millisecond: handled on the loop, read outside the budget
QUICK_SECONDS = 0.01  # a request that takes less holds the loop for less than the hand-over is worth
HEAD_READ = 1 << 16  # bytes asked of a connection whose headers are not complete
BODY_READ = 1 << 20  # at most this much at once of a body
MAX_HEAD_BYTES = 1 << 16  # past this with no end of headers, gunicorn's parser gets what is there (a proxy's
# own limit is lower: nginx, 32 KiB), so that a connection's headers never hold more
MAX_CHUNK_LINE = 1024  # a chunk-size line longer than this is a framing error
TICK = 0.25  # seconds between the loop's looks at idle connections, heartbeat and parent
DEFER_ACCEPT_SECONDS = 1
MAX_PARTS = 64  # buffers per send, well under the system's IOV_MAX
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def idle_timeout(environ=os.environ) -> float | None:
    """``DR_ONNX_IDLE_TIMEOUT`` in seconds, None for no bound (0)."""
    return read_int(IDLE_TIMEOUT_SETTING, DEFAULT_IDLE_TIMEOUT, minimum=0, environ=environ) or None


class _Pace:
    """How long the last small request took to handle, per worker process."""

    last_small = 0.0


def expect_request_seconds(seconds: float | None) -> None:
    """Start the worker's pace from what the model took at load (its warm-up run), so that the
    first request to a slow model does not hold the event loop either."""
    if seconds is not None:
        _Pace.last_small = seconds


class ClientIdle(TimeoutError):
    """A client connection sent nothing for the idle bound.

    Raised to gunicorn's parser (as the body's next bytes) once a request's body stops coming; a
    ``TimeoutError`` whose ``errno`` gunicorn treats as a client gone, without a traceback.
    """

    def __init__(self, seconds: float, doing: str) -> None:
        super().__init__(errno.ENOTCONN, f"nothing {doing} for {seconds:g} s ({IDLE_TIMEOUT_SETTING})")

    def __str__(self) -> str:
        return self.strerror or ""


class Framing:
    """Where a request ends, read from its head (request line and headers) as far as the loop needs."""

    __slots__ = ("length", "chunked", "expect_continue", "unclear")

    def __init__(self, head: bytes) -> None:
        self.length = 0  # body bytes announced by Content-Length
        self.chunked = False
        self.expect_continue = False
        self.unclear = False  # framing gunicorn's parser refuses: handle the request as it is, read no more
        lengths = set()
        for line in head.split(b"\r\n")[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                continue
            name = name.strip().lower()
            if name == b"content-length":
                lengths.add(value.strip())
            elif name == b"transfer-encoding":
                self.chunked = True
                self.unclear = self.unclear or value.strip().lower() != b"chunked"
            elif name == b"expect":
                self.expect_continue = value.strip().lower() == b"100-continue"
        if lengths:
            (length, *others) = lengths
            if others or not length.isdigit() or self.chunked:
                self.unclear = True
            else:
                self.length = int(length)

    @property
    def has_body(self) -> bool:
        return self.chunked or self.length > 0


class BodyTooLarge(ValueError):
    """A body past ``DR_ONNX_MAX_BODY_BYTES``, refused before it is read: raised to whoever reads past
    the bytes kept (``custom_flask.py`` answers 413 without reading), so that no application is
    handed a body cut short."""


def chunked_end(buf: bytearray, start: int, most: int) -> tuple[int | None, int, bool]:
    """Where a chunked body whose next chunk starts at ``buf[start]`` ends: ``(end, start, False)``,
    ``end`` one past the last chunk and its trailers, once they are in ``buf``; else ``(None, start,
    False)`` with ``start`` moved to the first chunk not complete yet. A framing error ends it where
    it is (gunicorn's reader refuses it there); so do chunks past ``most`` bytes, with True."""
    first = start
    while True:
        line_end = buf.find(b"\r\n", start, start + MAX_CHUNK_LINE)
        if line_end < 0:
            return (len(buf) if len(buf) - start >= MAX_CHUNK_LINE else None), start, False
        try:
            size = int(bytes(buf[start:line_end]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return len(buf), start, False
        if size == 0:
            if buf[line_end + 2:line_end + 4] == b"\r\n":
                return line_end + 4, start, False
            trailers_end = buf.find(b"\r\n\r\n", line_end)
            return (trailers_end + 4 if trailers_end >= 0 else None), start, False
        following = line_end + 2 + size + 2
        if following - first > most:
            return len(buf), start, True
        if len(buf) < following:
            return None, start, False
        start = following


class Connection:
    """A client connection: its request's bytes as they arrive; then, to gunicorn, a socket whose
    reads answer from those bytes (never waiting on the client) and whose writes never wait either
    (what the client does not take at once is kept in ``outbox`` for the loop)."""

    __slots__ = ("sock", "addr", "listener", "buf", "pos", "last", "head_end", "framing", "end", "scan",
                 "reserved", "failure", "continued", "headers", "outbox", "closing", "writing")

    def __init__(self, sock: socket.socket, addr: Any, listener: Any, now: float) -> None:
        self.sock = sock
        self.addr = addr
        self.listener = listener
        self.buf = bytearray()
        self.pos = 0  # bytes of buf the parser has taken
        self.last = now  # when the last byte came or went (or the connection came, before any)
        self.head_end = -1  # one past the blank line that ends the headers, once it has come
        self.framing: Framing | None = None
        self.end: int | None = None  # set once the request is complete (or cut), to be handled
        self.scan = 0  # chunked bodies: where the first incomplete chunk starts
        self.reserved = 0  # body bytes held against the worker's body budget
        self.failure: BaseException | None = None  # raised to the parser once the bytes run out
        self.continued = False  # "100 Continue" sent by the loop
        self.headers: bytes | None = None  # the response's first write (its headers), until the next
        self.outbox: deque[memoryview] = deque()  # response bytes the client has not taken yet
        self.closing = False  # gunicorn closed it: close it once the outbox is sent
        self.writing = False  # handled; the loop sends the rest of the response as the client takes it

    @property
    def peer(self) -> str:
        try:
            return f"{self.addr[0]}:{self.addr[1]}"
        except (TypeError, IndexError):
            return "a client"

    # --- the socket gunicorn's parser and response use ----------------------------------------------
    def recv(self, size: int) -> bytes:
        if self.pos < len(self.buf):
            data = bytes(memoryview(self.buf)[self.pos:self.pos + size])  # one copy (a slice would be two)
            self.pos += len(data)
            if self.pos == len(self.buf):
                self.buf, self.pos = bytearray(), 0  # the body's only copy is now the application's
            return data
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        return b""

    def sendall(self, data: Any, flags: int = 0) -> None:
        """gunicorn writes a response's headers, then its body: the headers wait for the body's first
        part, and both go in one send (one segment, one wake-up of the client)."""
        if self.continued and data == CONTINUE:
            return  # the loop sent it when the headers came
        if self.headers is None:
            self.headers = bytes(data)
            return
        parts = [memoryview(self.headers), memoryview(data).cast("B")] if self.headers else [memoryview(data).cast("B")]
        self.headers = b""
        self.push(parts)

    def send(self, data: Any, flags: int = 0) -> int:
        self.sendall(data, flags)  # gunicorn's "100 Continue", when the loop has not sent one
        return len(data)

    def push(self, parts: list[memoryview]) -> None:
        if not self.outbox:
            try:
                sent = self.sock.sendmsg(parts, [], socket.MSG_DONTWAIT)
            except BlockingIOError:
                sent = 0
            while parts and sent >= len(parts[0]):
                sent -= len(parts.pop(0))
            if parts:
                parts[0] = parts[0][sent:]
        for part in parts:
            # a view of bytes keeps them as they are; any other buffer may change once the call returns
            self.outbox.append(part if isinstance(part.obj, bytes) else memoryview(bytes(part)))

    def flush_headers(self) -> None:
        if self.headers:
            self.push([memoryview(self.headers)])
        self.headers = b""

    def shutdown(self, how: int) -> None:
        self.flush_headers()
        if not self.outbox:
            self.sock.shutdown(how)

    def close(self) -> None:
        try:
            self.flush_headers()
        except OSError:
            self.outbox.clear()
        if self.outbox:
            self.closing = True
        else:
            self.sock.close()

    def settimeout(self, seconds: float | None) -> None:
        pass  # reads answer from memory and writes never wait: nothing here waits on the client

    def setblocking(self, flag: bool) -> None:
        pass

    def fileno(self) -> int:
        return self.sock.fileno()

    def getpeername(self) -> Any:
        return self.sock.getpeername()

    def getsockname(self) -> Any:
        return self.sock.getsockname()

    # --- the loop's side ------------------------------------------------------------------------------
    @property
    def small_body(self) -> bool:
        """A request with a body of at most ``SMALL_BODY_BYTES`` (with its head)."""
        return self.framing is not None and self.framing.has_body and len(self.buf) <= SMALL_BODY_BYTES

    def arrived(self, data: bytes, most_body: int) -> None:
        """Take bytes from the client; set ``end`` once the request is complete."""
        self.buf += data
        if self.head_end < 0:
            found = self.buf.find(b"\r\n\r\n", max(0, len(self.buf) - len(data) - 3))
            if found < 0:
                if len(self.buf) > MAX_HEAD_BYTES:
                    self.end = len(self.buf)
                return
            self.head_end = self.scan = found + 4
            self.framing = Framing(bytes(self.buf[:self.head_end]))
        framing = self.framing
        assert framing is not None
        if framing.unclear:
            self.end = len(self.buf)  # gunicorn's parser refuses it on what is there
        elif framing.length > most_body:
            self.end = len(self.buf)
            self.failure = BodyTooLarge(f"The request body has {framing.length} bytes, more than the {most_body} "
                                        f"accepted (DR_ONNX_MAX_BODY_BYTES).")
        elif framing.chunked:
            self.end, self.scan, too_large = chunked_end(self.buf, self.scan, most_body)
            if too_large:
                self.failure = BodyTooLarge(f"The request body is larger than the {most_body} bytes accepted "
                                            "(DR_ONNX_MAX_BODY_BYTES).")
        elif len(self.buf) >= self.head_end + framing.length:
            self.end = self.head_end + framing.length

    def transmit(self) -> bool:
        """Send what the client will take now of the outbox; True once it is all sent."""
        try:
            sent = self.sock.sendmsg(list(islice(self.outbox, MAX_PARTS)), [], socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        while self.outbox and sent >= len(self.outbox[0]):
            sent -= len(self.outbox.popleft())
        if self.outbox:
            self.outbox[0] = self.outbox[0][sent:]
        return not self.outbox


class BufferingWorker(SyncWorker):
    """gunicorn's sync worker, handed each request only once an event loop has read all of it."""

    first_byte_timeout = 2  # DRUM's gunicorn.conf.py sets it (DRUM_GUNICORN_FIRST_BYTE_TIMEOUT) after the fork
    alive: bool  # gunicorn's: False once the worker is to stop (SIGTERM, max_requests, parent gone)

    def init_process(self) -> None:
        # imported here, in the forked worker: onnxruntime loaded in gunicorn's master aborts every
        # worker when it exits
        from .settings import Settings

        self.idle_timeout = idle_timeout()  # a bad value fails the worker's boot, naming the setting
        self.max_body = Settings.read().max_body_bytes
        self.worker_connections = self.cfg.worker_connections
        if self.cfg.is_ssl:
            raise RuntimeError("dr_onnx_hooks.workers.BufferingWorker does not serve TLS: choose DRUM's worker "
                               "class (DRUM_GUNICORN_WORKER_CLASS) for that")
        self.cfg.set("sendfile", False)  # a file response is written in parts, through the loop's buffers
        super().init_process()  # loads the app (DRUM loads the model), then runs

    def run(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.connections: set[Connection] = set()
        self.parked: deque[Connection] = deque()  # bodies waiting for the budget, in arrival order
        self.held = 0  # body bytes reserved by connections
        self.accepting = False
        self.accept_again = 0.0  # after running out of file descriptors: when to try accepting again
        self.starved = False  # the last accept ran out of them (said once per episode)
        self.stopping = False
        self.busy = 0  # requests handed to the native thread and not back yet
        self.scoring: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
        self.finished: deque[Connection] = deque()  # back from the native thread, for the loop
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        for listener in self.sockets:
            listener.setblocking(False)
            if listener.family in (socket.AF_INET, socket.AF_INET6) and hasattr(socket, "TCP_DEFER_ACCEPT"):
                listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_ACCEPT_SECONDS)
        self.selector.register(self.PIPE[0], selectors.EVENT_READ, None)  # gunicorn's signal wake-ups
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        self.set_accepting(True)
        thread = threading.Thread(target=self.score_in_thread, name="dr_onnx_hooks scoring", daemon=True)
        thread.start()
        self.log.info(
            "dr_onnx_hooks worker: each request read whole before it is handled, up to %s connections, "
            "idle bound %s, a native thread for long requests",
            self.worker_connections, f"{self.idle_timeout:g} s" if self.idle_timeout else "none",
        )
        try:
            self.loop()
        finally:
            self.scoring.put(None)
            thread.join(5)

    def loop(self) -> None:
        next_tick = 0.0
        while True:
            if not self.alive and not self.stopping:
                self.stop()
            if self.stopping and not self.connections:
                return
            for key, events in self.selector.select(TICK):
                target = key.data
                if isinstance(target, Connection):
                    if events & selectors.EVENT_WRITE:
                        self.transmit(target)
                    else:
                        self.receive(target)
                elif target is None:
                    self.drain(key.fileobj)
                else:
                    self.accept(target)
            while self.finished:
                self.busy -= 1
                self.done(self.finished.popleft())
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + TICK
                self.notify()
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    self.alive = False
                self.close_idle(now)
                if self.accept_again and now >= self.accept_again and not self.stopping:
                    self.accept_again = 0.0
                    self.set_accepting(len(self.connections) < self.worker_connections)

    def drain(self, source: Any) -> None:
        try:
            while source.recv(4096) if isinstance(source, socket.socket) else os.read(source, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def set_accepting(self, accepting: bool) -> None:
        if accepting != self.accepting:
            self.accepting = accepting
            for listener in self.sockets:
                if accepting:
                    self.selector.register(listener, selectors.EVENT_READ, listener)
                else:
                    self.selector.unregister(listener)

    def accept(self, listener: Any) -> None:
        """One connection per turn of the loop: the ones already accepted, whose requests may have
        come meanwhile, are served in between (first come, first served, as from the backlog)."""
        if not self.accepting:
            return  # stopped accepting earlier in this turn (full, or stopping); its event was already out
        try:
            sock, addr = listener.accept()  # blocking mode: every read and write passes MSG_DONTWAIT
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                raise
            # out of file descriptors or memory: the connection waits in the backlog until one closes
            if not self.starved:
                self.log.warning("Not accepting connections for now: %s (%s open here)", exc, len(self.connections))
            self.starved = True
            self.set_accepting(False)
            self.accept_again = time.monotonic() + TICK
            return
        self.starved = False
        connection = Connection(sock, addr, listener, time.monotonic())
        self.connections.add(connection)
        if len(self.connections) >= self.worker_connections:
            self.set_accepting(False)  # more wait in the listen backlog
        if not self.receive(connection, registered=False):
            self.selector.register(sock, selectors.EVENT_READ, connection)

    def receive(self, connection: Connection, registered: bool = True) -> bool:
        """Read what the client has sent, and hand the request over once it is complete. False: the
        connection waits for more (and, coming from ``accept``, is not registered yet)."""
        try:
            data = connection.sock.recv(BODY_READ if connection.head_end >= 0 else HEAD_READ, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.drop(connection, registered)
            return True
        if not data:  # the client closed its side: answer what came, if a request began
            if connection.head_end < 0:
                self.drop(connection, registered)
            else:
                connection.end = len(connection.buf)
                self.ready(connection, registered)
            return True
        connection.last = time.monotonic()
        had_head = connection.head_end >= 0
        connection.arrived(data, self.max_body)
        if connection.framing is not None and not had_head and not self.admit(connection, registered):
            return True
        if connection.end is not None:
            self.ready(connection, registered)
            return True
        return False

    def body_size(self, connection: Connection) -> int:
        """What a request's body holds against the budget: its length; the limit when chunked;
        nothing when it is refused unread (framing unclear, or announced past the limit)."""
        framing = connection.framing
        assert framing is not None
        if framing.unclear or framing.length > self.max_body:
            return 0
        return self.max_body if framing.chunked else framing.length

    def fits(self, size: int) -> bool:
        """Whether a body of ``size`` may be read now: a small one always, one alone always, else within
        the budget together with the bodies held."""
        return size <= SMALL_BODY_BYTES or not self.held or self.held + size <= self.max_body

    def admit(self, connection: Connection, registered: bool) -> bool:
        """Hold the coming body's size against the budget, or park the connection until it fits.
        False: parked."""
        size = self.body_size(connection)
        if not self.fits(size):
            if registered:
                self.selector.unregister(connection.sock)
            self.parked.append(connection)
            return False
        connection.reserved = size
        self.held += size
        assert connection.framing is not None
        if connection.framing.expect_continue and connection.end is None:
            try:
                connection.sock.send(CONTINUE, socket.MSG_DONTWAIT)
                connection.continued = True
            except OSError:
                pass  # gunicorn sends it when the request is handled
        return True

    def ready(self, connection: Connection, registered: bool) -> None:
        """A complete request: handled now on the loop, or queued for the native thread."""
        if registered:
            self.selector.unregister(connection.sock)
        framing = connection.framing
        if framing is None or not framing.has_body or (
            connection.small_body and not self.busy and _Pace.last_small < QUICK_SECONDS
        ):
            self.handle_connection(connection)
            self.done(connection)
        else:
            self.busy += 1
            self.scoring.put(connection)

    def score_in_thread(self) -> None:
        while (connection := self.scoring.get()) is not None:
            try:
                self.handle_connection(connection)
            except Exception:  # gunicorn's handling answers the client's errors itself: this is a bug of ours
                self.log.exception("Error handling a request in the scoring thread")
            finally:
                self.finished.append(connection)
                self.wake_w.send(b"x")

    def handle_connection(self, connection: Connection) -> None:
        """gunicorn's sync handling (parser, application, response, its errors), timed for the pace."""
        small = connection.small_body  # before the parser takes the bytes
        started = time.perf_counter()
        try:
            self.handle(connection.listener, connection, connection.addr)  # closes the connection
        finally:
            if small:
                _Pace.last_small = time.perf_counter() - started

    def done(self, connection: Connection) -> None:
        """A handled connection: the rest of its response to send, or its slot and budget back."""
        connection.buf = bytearray()
        if connection.outbox and connection.closing:
            connection.writing = True
            connection.last = time.monotonic()
            self.selector.register(connection.sock, selectors.EVENT_WRITE, connection)
        else:
            self.release(connection)

    def transmit(self, connection: Connection) -> None:
        try:
            if not connection.transmit():
                connection.last = time.monotonic()
                return
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client left: nothing more to send
        self.drop(connection, registered=True)

    def release(self, connection: Connection) -> None:
        """The connection's slot and body budget back; parked bodies admitted in order while they fit."""
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        self.held -= connection.reserved
        connection.reserved = 0
        if not self.stopping and not self.accept_again:
            self.set_accepting(len(self.connections) < self.worker_connections)
        complete = []
        while self.parked and self.fits(self.body_size(self.parked[0])):
            waiting = self.parked.popleft()
            waiting.last = time.monotonic()
            self.admit(waiting, registered=False)
            if waiting.end is None:
                self.selector.register(waiting.sock, selectors.EVENT_READ, waiting)
            else:
                complete.append(waiting)  # its bytes had all come before it was parked
        for waiting in complete:
            self.ready(waiting, registered=False)

    def drop(self, connection: Connection, registered: bool) -> None:
        if registered:
            self.selector.unregister(connection.sock)
        try:
            self.parked.remove(connection)
        except ValueError:
            pass
        connection.sock.close()
        self.release(connection)

    def close_idle(self, now: float) -> None:
        """Close the connections whose client has been quiet past its bound."""
        for connection in list(self.connections):
            if (connection.end is not None and not connection.writing) or connection in self.parked:
                continue  # being handled, or waiting for this worker (not for its client)
            began = bool(connection.buf) or connection.writing
            if self.stopping:
                bound: float | None = min(self.idle_timeout or SHUTDOWN_IDLE, SHUTDOWN_IDLE) if began else 0
            elif began or not self.first_byte_timeout:
                bound = self.idle_timeout
            else:
                bound = self.first_byte_timeout
            if bound is None or now - connection.last < bound:
                continue
            if self.stopping and began:
                logger.warning("Closing a connection idle for %.0f s or more: the server is stopping.", bound)
            elif began:
                doing = "read by the client" if connection.writing else "received"
                logger.warning("Closing the connection from %s: %s.", connection.peer, ClientIdle(bound, doing))
            if connection.head_end >= 0 and not connection.writing:
                # in the body: the application answers 400, the body cannot be read
                connection.failure = ClientIdle(bound, "received")
                connection.end = len(connection.buf)
                self.ready(connection, registered=True)
            else:
                self.drop(connection, registered=True)

    def stop(self) -> None:
        """SIGTERM, or the parent gone: accept nothing more; close what has sent nothing yet."""
        self.stopping = True
        self.set_accepting(False)
        self.close_idle(time.monotonic())
