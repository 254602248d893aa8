"""Step 4: one ``session.run``, or one per batch when the graph fixes its batch size."""

from typing import Dict, Optional

import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

from .errors import MODEL_FAULT, UNPROCESSABLE, DrOnnxError


def run(session: ort.InferenceSession, feeds: Dict[str, np.ndarray], fetch: str, batch: Optional[int]) -> np.ndarray:
    """The ``fetch`` tensor for all rows of ``feeds``.

    A graph exported with a fixed batch dimension (torch's default ``[1, F]``) is run in slices of
    that size; the last slice is padded by repeating its final row and the padding dropped after.
    """
    n_rows = len(next(iter(feeds.values())))
    if batch is None or n_rows == batch:
        return _run_once(session, feeds, fetch)
    parts = []
    for start in range(0, n_rows, batch):
        stop = min(start + batch, n_rows)
        index = np.minimum(np.arange(start, start + batch), stop - 1)
        parts.append(_run_once(session, {k: v[index] for k, v in feeds.items()}, fetch)[: stop - start])
    return np.concatenate(parts)


def _run_once(session: ort.InferenceSession, feeds: Dict[str, np.ndarray], fetch: str) -> np.ndarray:
    try:
        return session.run([fetch], feeds)[0]
    except Exception as exc:
        status = UNPROCESSABLE if isinstance(exc, InvalidArgument) else MODEL_FAULT
        raise DrOnnxError(f"onnxruntime could not score the data: {exc}", status) from exc
