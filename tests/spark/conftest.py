"""A real local Spark (``local[2]``) for ``tests/spark``: pyspark (requirements-dev) and Java 17.

Outside CI these tests skip, saying what is missing; in CI (``CI=true``) they fail instead, so a
missing Java or pyspark can never pass as skipped tests (``.ci/run`` installs Java 17).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MIN_JAVA = 17


def pytest_configure(config):
    config.addinivalue_line("markers", "spark: runs a local Spark (pyspark and Java 17)")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing() -> str | None:
    """Why a local Spark cannot start here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -r requirements-dev.txt)"
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return "no Java: install Java 17 (apt-get install openjdk-17-jre-headless)"
    shown = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    version = re.search(r'version "(\d+)', shown)
    if not version or int(version.group(1)) < MIN_JAVA:
        return f"pyspark 4 needs Java {MIN_JAVA} or later; {java} says: {shown.strip().splitlines()[:1]}"
    return None


def cannot_run(reason: str) -> None:
    if in_ci():
        pytest.fail(f"the Spark tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pyspark_installed():
    """For tests that import pyspark but start no Spark."""
    reason = missing()
    if reason and "pyspark" in reason:
        cannot_run(reason)


@pytest.fixture(scope="session")
def spark():
    reason = missing()
    if reason:
        cannot_run(reason)
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers run this venv's python, with dr_onnx_hooks
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]").appName("dr_onnx_hooks tests")
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g").getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
