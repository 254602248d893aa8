"""start_server.sh's decisions, run with a stand-in ``drum`` that reports what it was given.
(The container tests run the same script in the real image.)"""

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from helpers import ROOT

FAKE_DRUM = """#!/bin/sh
echo "ARGS=$*"
echo "CODE_DIR=$CODE_DIR"
echo "DR_ONNX_MODEL_DIR=${DR_ONNX_MODEL_DIR:-}"
echo "GUNICORN_CMD_ARGS=${GUNICORN_CMD_ARGS-(unset)}"
"""


def start(tmp_path: Path, code_dir: Path, *args: str, **env: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    drum = bin_dir / "drum"
    drum.write_text(FAKE_DRUM)
    drum.chmod(drum.stat().st_mode | stat.S_IEXEC)
    environment = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "CODE_DIR": str(code_dir), **env}
    result = subprocess.run(["sh", str(ROOT / "start_server.sh"), *args], capture_output=True, text=True,
                            env=environment, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_artifact_only_folder_is_served_through_the_default_custom_py(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "model.onnx").write_bytes(b"x")
    out = start(tmp_path, tmp_path / "code", "--max-workers", "2")
    assert "CODE_DIR=/opt/dr_onnx/default_code" in out
    assert f"DR_ONNX_MODEL_DIR={tmp_path / 'code'}" in out
    assert "ARGS=server --max-workers 2" in out


@pytest.mark.parametrize("where", ["custom.py", "src/custom.py"])
def test_a_folder_with_its_own_custom_py_is_served_as_is(tmp_path, where):
    hook = tmp_path / "code" / where
    hook.parent.mkdir(parents=True)
    hook.write_text("")
    out = start(tmp_path, tmp_path / "code")
    assert f"CODE_DIR={tmp_path / 'code'}\n" in out and "DR_ONNX_MODEL_DIR=\n" in out


def test_environment_is_not_printed_unless_asked_and_then_secrets_are_masked(tmp_path):
    (tmp_path / "code").mkdir()
    secrets = {"API_TOKEN": "tok-123", "AWS_SECRET_ACCESS_KEY": "aws-456", "DB_PASSWORD": "pw-789",
               "MLOPS_RUNTIME_PARAM_CREDENTIAL": "cred-0"}
    quiet = start(tmp_path, tmp_path / "code", TARGET_TYPE="binary", **secrets)
    assert "TARGET_TYPE" not in quiet and not any(v in quiet for v in secrets.values())
    dumped = start(tmp_path, tmp_path / "code", TARGET_TYPE="binary", ENABLE_CUSTOM_MODEL_RUNTIME_ENV_DUMP="1",
                   MULTILINE="a\nb", **secrets)
    assert "TARGET_TYPE='binary'" in dumped and "MULTILINE='a\\nb'" in dumped
    for name, value in secrets.items():
        assert f"{name}='*****'" in dumped and value not in dumped


OUR_WORKER = "dr_onnx_hooks.workers.BufferingWorker"
NO_CONTROL = "--no-control-socket"


def gunicorn_args(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith("GUNICORN_CMD_ARGS="))
    return shlex.split(line.split("=", 1)[1])


def runtime_param(payload) -> str:
    kind = "numeric" if isinstance(payload, int) else "string"
    return f'{{"type": "{kind}", "payload": {payload!r}}}'.replace("'", '"')


def test_serves_with_our_buffering_worker_and_100_connections_by_default(tmp_path):
    (tmp_path / "code").mkdir()
    out = start(tmp_path, tmp_path / "code")
    assert gunicorn_args(out) == ["--worker-class", OUR_WORKER, "--worker-connections", "1000", NO_CONTROL]


@pytest.mark.parametrize("name, payload, kept", [
    ("DRUM_GUNICORN_WORKER_CLASS", "sync", ["--worker-connections", "1000", NO_CONTROL]),
    ("DRUM_GUNICORN_WORKER_CLASS", "gevent", ["--worker-connections", "1000", NO_CONTROL]),
    ("DRUM_WORKER_CONNECTIONS", 7, ["--worker-class", OUR_WORKER, NO_CONTROL]),
])
def test_drum_s_own_runtime_parameters_win_over_the_image_defaults(tmp_path, name, payload, kept):
    (tmp_path / "code").mkdir()
    out = start(tmp_path, tmp_path / "code", **{f"MLOPS_RUNTIME_PARAM_{name}": runtime_param(payload)})
    assert gunicorn_args(out) == kept  # DRUM's gunicorn.conf.py reads the parameter itself
    if name == "DRUM_GUNICORN_WORKER_CLASS":
        assert "worker class from the runtime parameter DRUM_GUNICORN_WORKER_CLASS" in out


def test_flags_the_user_put_in_gunicorn_cmd_args_come_last_and_so_win(tmp_path):
    (tmp_path / "code").mkdir()
    out = start(tmp_path, tmp_path / "code", GUNICORN_CMD_ARGS="--worker-class sync --keep-alive 5")
    assert gunicorn_args(out) == ["--worker-class", OUR_WORKER, "--worker-connections", "1000", NO_CONTROL,
                                  "--worker-class", "sync", "--keep-alive", "5"]


def test_gunicorn_applies_gunicorn_cmd_args_after_drum_s_config_file(monkeypatch):
    """What the defaults rely on, checked in gunicorn itself: the environment's flags override the
    values DRUM's gunicorn.conf.py sets, and the config file's hooks stay."""
    from pathlib import Path

    import datarobot_drum
    from gunicorn.app.wsgiapp import WSGIApplication

    config = Path(datarobot_drum.__file__).parent / "drum" / "gunicorn" / "gunicorn.conf.py"
    monkeypatch.setenv("ADDRESS", "127.0.0.1:1")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", f"--worker-class {OUR_WORKER} --worker-connections 1000 {NO_CONTROL}")
    monkeypatch.setattr("sys.argv", ["gunicorn", "-c", str(config), "app:app"])
    app = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]")
    assert app.cfg.worker_class_str == OUR_WORKER and app.cfg.worker_connections == 1000
    assert app.cfg.control_socket_disable
    assert app.cfg.keepalive == 0 and app.cfg.timeout == 600  # DRUM's file still applies
    assert app.cfg.post_fork.__module__ != "gunicorn.config"  # DRUM's hook (sets the first-byte timeout)
