"""DRUM's Flask extension hook: a request refused before our hooks run still gets a 4xx.

DRUM imports ``custom_flask.py`` from the code folder and calls its ``init_app(app)``; the
environment's default code folder has one (``from dr_onnx_hooks.flask_ext import init_app``), and
a model folder with its own ``custom.py`` can add the same line as ``custom_flask.py``.

* **The body, read first** (``BodyGuard``, a WSGI wrapper): at most ``DR_ONNX_MAX_BODY_BYTES``
  (413 as soon as more arrive, before the rest is read), the whole of it (a body shorter than its
  ``Content-Length``, when the client half-closes, is a 400 instead of being scored truncated),
  and well framed (a malformed chunked body is a 400; gunicorn raises its own exception there,
  which DRUM's handler would turn into a 500). The application then reads the same bytes. (Under
  the image's worker, ``workers.BufferingWorker``, the body is already in memory, read within the
  limit together with the other bodies the worker holds.)
* **Werkzeug's own refusals** while DRUM parses a form (more than 1,000 multipart parts, a field
  or file name too long: 413) keep their status: DRUM's blueprint handler turns every
  ``HTTPException`` except 400 into a bare 500, but Flask looks up handlers registered for a
  status code before handlers registered for ``Exception``, so the ones registered here win.

Every answer is short JSON, ``{"message": ...}``, with DRUM's user-error header, as for our hooks.
"""

import io
import json
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException, default_exceptions

from .quoting import capped
from .settings import MAX_BODY_SETTING, Settings
from .workers import BodyTooLarge

logger = logging.getLogger(__name__)

USER_ERROR_HEADER = "X-Drum-User-Http-Error"  # what DRUM sets on a CustomHTTPError's response
MESSAGE_LIMIT = 1_000
READ_SIZE = 1 << 20
WITH_BODY = ("POST", "PUT", "PATCH")

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def init_app(app: Any) -> None:
    """Guard the body, answer every 4xx Werkzeug raises with its own status, and warm Flask."""
    app.wsgi_app = BodyGuard(app.wsgi_app, Settings.read().max_body_bytes)
    for code in sorted(c for c in default_exceptions if 400 <= c < 500):
        app.register_error_handler(code, _client_error)
    _warm(app)


def _warm(app: Any) -> None:
    """One ``/ping/`` through the app in-process, so the first real request does not pay for
    Flask's and Werkzeug's lazy set-up (``first_request`` warms the scoring path at load)."""
    try:
        app.test_client().get(os.environ.get("URL_PREFIX", "").rstrip("/") + "/ping/")
    except Exception as exc:  # nothing served depends on it
        logger.debug("Flask not warmed: %s", exc)
    # The warm-up was not a client's request: a custom_flask.py that calls this init_app may still add
    # its own routes after it (Flask refuses set-up once a request was handled; its own development
    # server resets the flag the same way when it stops).
    app._got_first_request = False


class BodyGuard:
    """Reads a request's body before the application, within a byte limit, and refuses it whole
    when it is too large, shorter than announced or badly framed."""

    def __init__(self, app: WsgiApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in WITH_BODY:
            return self.app(environ, start_response)
        announced = environ.get("CONTENT_LENGTH") or ""
        if announced.isdigit() and int(announced) > self.max_bytes:
            return _answer(start_response, 413, f"The request body has {announced} bytes, more than the "
                                                f"{self.max_bytes} accepted ({MAX_BODY_SETTING}).")
        try:
            body = self._read(environ["wsgi.input"])
        except BodyTooLarge:  # here, or from the image's worker, which refuses past the limit unread
            return _answer(start_response, 413, f"The request body is larger than the {self.max_bytes} bytes "
                                                f"accepted ({MAX_BODY_SETTING}).")
        except Exception as exc:  # gunicorn's framing errors (InvalidChunkSize, NoMoreData...) and the like
            return _answer(start_response, 400, f"The request body cannot be read: {type(exc).__name__}: {exc}")
        if announced.isdigit() and len(body) < int(announced):
            return _answer(
                start_response, 400, f"The request body ended after {len(body)} of the {announced} bytes its "
                "Content-Length announced: the client stopped sending. Send it again.",
            )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        return self.app(environ, start_response)

    def _read(self, stream: Any) -> bytes:
        parts: list[bytes] = []
        size = 0
        while chunk := stream.read(READ_SIZE):
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLarge
            parts.append(chunk)
        return b"".join(parts)


def _answer(start_response: Callable, status: int, message: str) -> list[bytes]:
    logger.warning("Request refused before scoring: %s %s", status, message)
    body = json.dumps({"message": capped(message, MESSAGE_LIMIT)}).encode()
    reason = {400: "BAD REQUEST", 413: "REQUEST ENTITY TOO LARGE"}[status]
    start_response(f"{status} {reason}", [
        ("Content-Type", "application/json"), ("Content-Length", str(len(body))), (USER_ERROR_HEADER, "true"),
        ("Connection", "close"),
    ])
    return [body]


def _client_error(error: HTTPException) -> Any:
    from flask import jsonify

    message = capped(f"{error.name}: {error.description}", MESSAGE_LIMIT)
    logger.warning("Request refused before scoring: %s %s", error.code, message)
    response = jsonify({"message": message})
    response.status_code = error.code or 400
    response.headers[USER_ERROR_HEADER] = "true"
    return response
