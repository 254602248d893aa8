"""What the test modules share besides the models (``models.py``) and the drum subprocesses
(``drum_helpers.py``): paths, the environment the tests start from, the expected answers
(scikit-learn's own), and request bodies. A plain module on pytest's ``pythonpath``."""

import codecs
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import requests
from scipy import sparse
from scipy.io import mmwrite

ROOT = Path(__file__).resolve().parent.parent  # the repository
DEFAULT_CODE = ROOT / "default_code"  # the environment's own custom.py, for artifact-only folders

ATOL = 1e-5  # probabilities against scikit-learn's: the models compute in float32

# --- the environment the tests start from --------------------------------------------------------

# Variables that would steer DRUM or the hooks behind a test's back: DRUM reads these (and adds them
# to its argv when the flag is absent), the hooks read DR_ONNX_* and TARGET_TYPE, and our thread
# default reads the worker counts. Each may also come as a runtime parameter, MLOPS_RUNTIME_PARAM_<NAME>.
STEERING = (
    "TARGET_TYPE", "CODE_DIR", "ADDRESS", "POSITIVE_CLASS_LABEL", "NEGATIVE_CLASS_LABEL", "CLASS_LABELS",
    "CLASS_LABELS_FILE", "MAX_WORKERS", "DEPLOYMENT_CONFIG", "MONITOR", "MONITOR_SETTINGS", "WITH_ERROR_SERVER",
    "SHOW_STACKTRACE", "PRODUCTION", "SKIP_PREDICT", "URL_PREFIX", "RUNTIME_PARAMS_FILE", "LAZY_LOADING_FILE",
    "CUSTOM_MODEL_WORKERS",
)


def chunked(*pieces: bytes, trailers: bytes = b"") -> bytes:
    """``pieces`` as an HTTP/1.1 chunked body: one chunk each, the last chunk, ``trailers``."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n" + trailers + b"\r\n"


def stray(name: str) -> bool:
    """A variable the shell running the tests may have set that would change what DRUM or the hooks
    do: one of ``STEERING`` or ``DR_ONNX_*``, plain or as a runtime parameter, or the runtime
    parameter that picks DRUM's server type. The tests and the drum subprocesses run without them."""
    bare = name.removeprefix("MLOPS_RUNTIME_PARAM_")
    return bare in STEERING or bare.startswith("DR_ONNX_") or name == "MLOPS_RUNTIME_PARAM_DRUM_SERVER_TYPE"


# --- what scikit-learn says ----------------------------------------------------------------------

def sklearn_input(model, rows: pd.DataFrame):
    """``rows`` as ``model`` was fitted: the frame for a pipeline fitted on a frame (it selects columns
    by name), else a float32 array (what the ONNX model computes on)."""
    return rows if hasattr(model, "feature_names_in_") else rows.to_numpy(np.float32)


def sklearn_proba(model, rows: pd.DataFrame) -> pd.DataFrame:
    """scikit-learn's own ``predict_proba``, one column per class named by ``str(class)``."""
    return pd.DataFrame(model.predict_proba(sklearn_input(model, rows)), columns=[str(c) for c in model.classes_])


def assert_probabilities(got: pd.DataFrame, model, rows: pd.DataFrame, labels: Sequence, **tolerance) -> None:
    """``got`` holds one row per row of ``rows`` and exactly the columns ``labels`` (as text), each
    equal to scikit-learn's probability of that class: within ``ATOL`` unless ``tolerance`` says otherwise."""
    assert sorted(got.columns) == sorted(str(label) for label in labels) and len(got) == len(rows)
    expected = sklearn_proba(model, rows)
    for label in got.columns:
        np.testing.assert_allclose(
            got[label], expected[label], **(tolerance or {"atol": ATOL}), err_msg=f"column {label!r}"
        )


def assert_named_like(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """``got`` holds ``expected``'s columns (in any order), each within ``ATOL`` of it."""
    assert sorted(got.columns) == sorted(expected.columns)
    for column in expected.columns:
        np.testing.assert_allclose(got[column], expected[column], atol=ATOL, err_msg=f"column {column!r}")


def assert_like_sklearn(frame: pd.DataFrame, model, rows: pd.DataFrame, target: str, labels: Sequence[str]) -> None:
    """``frame`` is what scikit-learn predicts for ``rows``: ``Predictions`` for regression, else
    probabilities by class name (``assert_probabilities``)."""
    assert len(frame) == len(rows)
    if target == "regression":
        assert list(frame.columns) == ["Predictions"]
        expected = model.predict(sklearn_input(model, rows))
        np.testing.assert_allclose(frame["Predictions"], expected, rtol=1e-4, atol=1e-4)
        return
    assert_probabilities(frame, model, rows, labels)


def label_kwargs(target: str, labels: Sequence[str]) -> dict[str, object]:
    """The label keywords DRUM passes to ``score`` for ``target``; binary ``labels`` are (negative, positive)."""
    if target == "binary":
        return {"negative_class_label": labels[0], "positive_class_label": labels[1]}
    return {"class_labels": list(labels)} if target == "multiclass" else {}


def predictions(response: requests.Response) -> pd.DataFrame:
    """A server's 200 answer as a frame: one column per class label, or ``Predictions`` (one value per row)."""
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    rows = response.json()["predictions"]
    if rows and not isinstance(rows[0], dict):
        return pd.DataFrame({"Predictions": rows})
    return pd.DataFrame(rows)


# --- request bodies ------------------------------------------------------------------------------

FORMATS = ("csv", "csv-bom-crlf", "json-records", "json-split", "json-instances", "arrow-file", "arrow-stream")
WIDE = ",".join(["c"] * 4_000_000).encode()  # an 8 MB header of 4 million columns


def csv_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def arrow_bytes(data, stream: bool = False) -> bytes:
    """``data`` (a DataFrame, without its index, or a pyarrow Table) as an Arrow IPC file, or stream."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    sink = io.BytesIO()
    with (pa.ipc.new_stream if stream else pa.ipc.new_file)(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def encoded(frame: pd.DataFrame, fmt: str) -> bytes:
    """``frame`` as a request body in ``fmt`` (one of ``FORMATS`` or ``mtx``; mtx: numbers only, no names)."""
    if fmt == "csv":
        return csv_bytes(frame)
    if fmt == "csv-bom-crlf":
        return codecs.BOM_UTF8 + frame.to_csv(index=False, lineterminator="\r\n").encode()
    if fmt in ("arrow-file", "arrow-stream"):
        return arrow_bytes(frame, stream=fmt == "arrow-stream")
    if fmt == "mtx":
        sink = io.BytesIO()
        mmwrite(sink, sparse.coo_matrix(frame.to_numpy(np.float64)))
        return sink.getvalue()
    records = json.loads(frame.to_json(orient="records", double_precision=15))
    if fmt == "json-records":
        return json.dumps(records).encode()
    if fmt == "json-instances":
        return json.dumps({"instances": records}).encode()
    if fmt == "json-split":
        return json.dumps({"columns": list(frame.columns), "data": [list(r.values()) for r in records]}).encode()
    raise ValueError(f"unknown format {fmt!r}")
