"""Step 4: ``session.run`` over the request's rows, decided at load: one run, or slices.

* A graph exported with a fixed batch dimension (torch's default ``[1, F]``) is run in slices of
  that size; the last slice is padded by repeating its final row and the padding dropped after.
* Otherwise a request of more than ``DR_ONNX_CHUNK_ROWS`` rows (environment variable or runtime
  parameter, default ``DEFAULT_CHUNK_ROWS``) is run in equal slices of at most that many rows, so
  onnxruntime's intermediate tensors (an MLP's hidden layers: rows x width floats each) stay
  bounded whatever the request size.

Chunked results are bit-identical to one run. onnxruntime picks kernels by batch size (a tree
ensemble parallelises over trees below ~64 rows, a 1-row product becomes a matrix-vector one),
and those sum floats in another order; hence equal slices, never a small remainder, and a
setting of at least ``MIN_CHUNK_ROWS``. The slices' results are written into one array allocated
after the first slice, so the output is never held twice.
"""

from typing import Dict, List, Optional, Tuple

import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

from .errors import MODEL_FAULT, UNPROCESSABLE, DrOnnxError
from .settings import read_int
from .warmup import warm_up

CHUNK_ROWS_SETTING = "DR_ONNX_CHUNK_ROWS"
DEFAULT_CHUNK_ROWS = 32_768  # measured: docs/benchmarks.md, "Row chunk size"
MIN_CHUNK_ROWS = 1_024

Feeds = Dict[str, np.ndarray]


class Runner:
    """Runs the session on a request's feeds as decided at load."""

    def __init__(self, session: ort.InferenceSession, batch: Optional[int], chunk_rows: int) -> None:
        self.session = session
        self.batch = batch
        self.chunk_rows = chunk_rows

    @classmethod
    def load(cls, session: ort.InferenceSession, batch: Optional[int]) -> "Runner":
        """The runner for ``session`` with ``DR_ONNX_CHUNK_ROWS`` read, after one warm-up run."""
        warm_up(session)
        return cls(session, batch, read_int(CHUNK_ROWS_SETTING, DEFAULT_CHUNK_ROWS, minimum=MIN_CHUNK_ROWS))

    def __call__(self, feeds: Feeds, fetch: str) -> np.ndarray:
        """The ``fetch`` tensor for all rows of ``feeds``."""
        n_rows = len(next(iter(feeds.values())))
        if n_rows == self.batch or (self.batch is None and n_rows <= self.chunk_rows):
            return self._run_once(feeds, fetch)
        result = None
        for start, stop in self._slices(n_rows):
            part = self._run_slice(feeds, fetch, start, stop)
            if part.ndim == 0 or len(part) != stop - start:
                got = len(part) if part.ndim else "a scalar"
                raise DrOnnxError(f"Output {fetch!r} returned {got} rows for {stop - start} input rows.", MODEL_FAULT)
            if result is None:
                result = np.empty((n_rows,) + part.shape[1:], dtype=part.dtype)
            result[start:stop] = part
        return result

    def _slices(self, n_rows: int) -> List[Tuple[int, int]]:
        if self.batch:
            return [(start, min(start + self.batch, n_rows)) for start in range(0, n_rows, self.batch)]
        count = -(-n_rows // self.chunk_rows)
        bounds = [n_rows * i // count for i in range(count + 1)]
        return list(zip(bounds, bounds[1:]))

    def _run_slice(self, feeds: Feeds, fetch: str, start: int, stop: int) -> np.ndarray:
        if self.batch:
            index = np.minimum(np.arange(start, start + self.batch), stop - 1)
            return self._run_once({k: v[index] for k, v in feeds.items()}, fetch)[: stop - start]
        return self._run_once({k: v[start:stop] for k, v in feeds.items()}, fetch)

    def _run_once(self, feeds: Feeds, fetch: str) -> np.ndarray:
        try:
            return self.session.run([fetch], feeds)[0]
        except Exception as exc:
            status = UNPROCESSABLE if isinstance(exc, InvalidArgument) else MODEL_FAULT
            raise DrOnnxError(f"onnxruntime could not score the data: {exc}", status) from exc
