"""pyspark is an optional extra: the package, the CLI and ``dr_onnx_hooks.spark`` import without it."""

import subprocess
import sys

BLOCKED = "import sys; sys.modules['pyspark'] = None  # as if not installed\n"


def test_package_imports_without_pyspark():
    code = BLOCKED + "import dr_onnx_hooks.__main__, dr_onnx_hooks.batch, dr_onnx_hooks.spark\nprint('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_predict_without_pyspark_says_so():
    code = BLOCKED + (
        "from dr_onnx_hooks.spark import predict\n"
        "try:\n    predict(None, 'model', 'regression')\n"
        "except ImportError as exc:\n    print('ImportError', exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("ImportError") and "pyspark" in result.stdout, result.stdout + result.stderr
