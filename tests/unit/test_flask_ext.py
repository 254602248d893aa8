"""dr_onnx_hooks.flask_ext on a plain Flask app (tests/server/test_before_hooks.py runs it in DRUM)."""

from flask import Flask

from dr_onnx_hooks.flask_ext import init_app


def app_with_ping() -> Flask:
    app = Flask("model")
    app.add_url_rule("/ping/", "ping", lambda: {"message": "OK"})
    return app


def test_a_custom_flask_py_may_add_routes_after_calling_our_init_app():
    app = app_with_ping()
    init_app(app)  # warms Flask with an in-process /ping/
    app.add_url_rule("/extra/", "extra", lambda: "extra")  # Flask refuses set-up after a real request
    client = app.test_client()
    assert client.get("/extra/").data == b"extra"
    assert client.get("/ping/").json == {"message": "OK"}


def test_a_body_past_the_limit_is_a_413_with_drum_s_user_error_header(monkeypatch):
    monkeypatch.setenv("DR_ONNX_MAX_BODY_BYTES", "10")
    app = app_with_ping()
    app.add_url_rule("/predict/", "predict", lambda: "scored", methods=["POST"])
    init_app(app)
    response = app.test_client().post("/predict/", data=b"a,b\n" * 10)
    assert response.status_code == 413
    assert "DR_ONNX_MAX_BODY_BYTES" in response.json["message"]
    assert response.headers["X-Drum-User-Http-Error"] == "true"
