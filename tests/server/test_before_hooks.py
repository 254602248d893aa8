"""Requests Werkzeug refuses while DRUM parses them, before any hook of ours runs, keep a 4xx
status with a short message (``custom_flask.py`` -> ``dr_onnx_hooks.flask_ext.init_app``), and the
server answers the next request."""

import shutil
import socket

import pytest
import requests

from drum_helpers import DrumServer, csv_bytes, label_args, write_code_dir
from helpers import ROOT
from models import classifier, features, sklearn_onnx

pytestmark = pytest.mark.drum


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model, train = classifier(("no", "yes"))
    folder = write_code_dir(tmp_path_factory.mktemp("flask") / "model", sklearn_onnx(model, train))
    shutil.copy(ROOT / "default_code" / "custom_flask.py", folder / "custom_flask.py")
    with DrumServer(folder, "binary", label_args(positive="yes", negative="no")) as running:
        yield running


def raw(server, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: sock.recv(65536), b""))


def multipart(parts) -> tuple:
    boundary = "b0undary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'.encode()
        + content + b"\r\n"
        for name, filename, content in parts
    ) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def assert_refused_then_served(server, response, status: int, words: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert words in response.json()["message"] and len(response.text) < 2_000
    good = server.predict_csv(features(3))
    assert good.status_code == 200 and len(good.json()["predictions"]) == 3


def test_multipart_with_too_many_parts_is_a_413(server):
    data = csv_bytes(features(2))
    body, headers = multipart([("X", "x.csv", data)] + [(f"p{i}", f"p{i}.txt", b"1") for i in range(1_001)])
    response = requests.post(server.url + "/predict/", data=body, headers=headers, timeout=30)
    assert_refused_then_served(server, response, 413, "Request Entity Too Large")


def test_multipart_with_a_megabyte_filename_is_a_413(server):
    body, headers = multipart([("X", "f" * 1_000_000 + ".csv", csv_bytes(features(2)))])
    response = requests.post(server.url + "/predict/", data=body, headers=headers, timeout=30)
    assert_refused_then_served(server, response, 413, "Request Entity Too Large")


def test_a_malformed_chunk_size_is_a_400(server):
    answer = raw(server, b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\nzz\r\nf0,f1\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"The request body cannot be read: InvalidChunkSize" in answer
    good = server.predict_csv(features(3))
    assert good.status_code == 200


def test_a_body_shorter_than_its_content_length_is_a_400_not_scored_truncated(server):
    body = csv_bytes(features(5))
    answer = raw(server, b"POST /predict/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body) + 100, body[:-20]))
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"ended after" in answer and b"Content-Length announced" in answer


def test_a_body_over_the_byte_limit_is_a_413_before_it_is_read(tmp_path):
    model, train = classifier(("no", "yes"))
    folder = write_code_dir(tmp_path / "model", sklearn_onnx(model, train))
    shutil.copy(ROOT / "default_code" / "custom_flask.py", folder / "custom_flask.py")
    env = {"DR_ONNX_MAX_BODY_BYTES": "1000"}
    with DrumServer(folder, "binary", label_args(positive="yes", negative="no"), env=env) as small:
        response = small.predict_csv(features(200))
        assert response.status_code == 413 and "DR_ONNX_MAX_BODY_BYTES" in response.json()["message"]
        assert small.predict_csv(features(3)).status_code == 200
