"""start_server.sh's decisions, run with a stand-in ``drum`` that reports what it was given.
(The container tests run the same script in the real image.)"""

import os
import stat
import subprocess
from pathlib import Path

import pytest

from helpers import ROOT

FAKE_DRUM = """#!/bin/sh
echo "ARGS=$*"
echo "CODE_DIR=$CODE_DIR"
echo "DR_ONNX_MODEL_DIR=${DR_ONNX_MODEL_DIR:-}"
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
