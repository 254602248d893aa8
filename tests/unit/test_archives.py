"""The environment tarball and the model archive, opened and checked member by member."""

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from helpers import ROOT
from models import softmax_graph, write_model

SCRIPT = ROOT / "scripts" / "archives.py"


def build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def members(path: Path) -> set:
    with tarfile.open(path) as archive:
        return {m.name for m in archive.getmembers() if m.isfile()}


def test_environment_tarball_holds_only_what_the_image_needs_at_its_root(tmp_path):
    output = tmp_path / "py_dropin.tar.gz"
    assert build("env", "--output", str(output)).returncode == 0
    names = members(output)
    for required in ("Dockerfile", "requirements.txt", "env_info.json", "start_server.sh", "README.md",
                     "dr_onnx_hooks/__init__.py", "dr_onnx_hooks/hooks.py", "default_code/custom.py"):
        assert required in names
    unwanted = ("tests/", ".git", ".venv", "scripts/", "example/")
    assert not [n for n in names if n.startswith(unwanted) or "__pycache__" in n]
    package = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dr_onnx_hooks").glob("*.py")}
    assert package <= names
    with tarfile.open(output) as archive:
        assert archive.getmember("start_server.sh").mode & 0o111, "start_server.sh must stay executable"


def test_model_archive_takes_the_onnx_and_custom_py(tmp_path):
    folder = write_model(tmp_path / "m", softmax_graph())
    (folder / "custom.py").write_text("from dr_onnx_hooks import load_model, score\n")
    (folder / "notes.md").write_text("not shipped")
    output = tmp_path / "custom_model.tar.gz"
    assert build("model", str(folder), "--output", str(output)).returncode == 0
    assert members(output) == {"model.onnx", "custom.py"}


def test_model_archive_of_an_artifact_only_folder(tmp_path):
    folder = write_model(tmp_path / "m", softmax_graph(), name="churn.ONNX")
    output = tmp_path / "custom_model.tar.gz"
    assert build("model", str(folder), "--output", str(output)).returncode == 0
    assert members(output) == {"churn.ONNX"}


@pytest.mark.parametrize("names, found", [((), "found 0: none"), (("a.onnx", "b.onnx"), "found 2: a.onnx, b.onnx")])
def test_model_archive_refuses_zero_or_several_onnx_files(tmp_path, names, found):
    folder = tmp_path / "m"
    folder.mkdir()
    for name in names:
        write_model(folder, softmax_graph(), name=name)
    result = build("model", str(folder), "--output", str(tmp_path / "x.tar.gz"))
    assert result.returncode != 0 and found in result.stderr
    assert not (tmp_path / "x.tar.gz").exists()
