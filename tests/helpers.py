"""What several test modules share, besides the models (``models.py``) and the drum subprocesses
(``drum_helpers.py``): paths and request bodies. A plain module on pytest's ``pythonpath``."""

import codecs
import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
from scipy import sparse
from scipy.io import mmwrite

ROOT = Path(__file__).resolve().parent.parent  # the repository
ATOL = 1e-5  # the models compute in float32

# --- request bodies ------------------------------------------------------------------------------

FORMATS = ("csv", "csv-bom-crlf", "json-records", "json-split", "json-instances", "arrow-file", "arrow-stream")
WIDE = ",".join(["c"] * 4_000_000).encode()  # an 8 MB header of 4 million columns


def encoded(frame: pd.DataFrame, fmt: str) -> bytes:
    """``frame`` as a request body in ``fmt`` (one of ``FORMATS`` or ``mtx``; mtx: numbers only, no names)."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    if fmt == "csv-bom-crlf":
        return codecs.BOM_UTF8 + frame.to_csv(index=False, lineterminator="\r\n").encode()
    records = json.loads(frame.to_json(orient="records", double_precision=15))
    if fmt == "json-records":
        return json.dumps(records).encode()
    if fmt == "json-instances":
        return json.dumps({"instances": records}).encode()
    if fmt == "json-split":
        return json.dumps({"columns": list(frame.columns), "data": [list(r.values()) for r in records]}).encode()
    sink = io.BytesIO()
    if fmt == "mtx":
        mmwrite(sink, sparse.coo_matrix(frame.to_numpy(np.float64)))
        return sink.getvalue()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with (pa.ipc.new_file if fmt == "arrow-file" else pa.ipc.new_stream)(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def proba_of(model, rows: pd.DataFrame) -> dict:
    """scikit-learn's probabilities by class name."""
    return dict(zip(model.classes_, model.predict_proba(rows).T))


def assert_like_sklearn(frame: pd.DataFrame, model, rows: pd.DataFrame, target: str, labels: Sequence[str]) -> None:
    assert len(frame) == len(rows)
    if target == "regression":
        assert list(frame.columns) == ["Predictions"]
        np.testing.assert_allclose(frame["Predictions"], model.predict(rows), rtol=1e-4, atol=1e-4)
        return
    assert sorted(frame.columns) == sorted(labels)
    proba = model.predict_proba(rows)
    for i, label in enumerate(model.classes_):
        np.testing.assert_allclose(frame[str(label)], proba[:, i], atol=ATOL, err_msg=f"column {label!r}")
