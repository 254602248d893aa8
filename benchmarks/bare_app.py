"""A WSGI application that does nothing but read the body and answer a constant: served by gunicorn
with each worker class, it measures what the worker class itself costs per connection."""

from collections.abc import Callable, Iterable

ANSWER = b'{"predictions": [{"0": 0.5, "1": 0.5}]}'


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))])
    return [ANSWER]
