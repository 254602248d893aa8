"""``session.run`` over the request's rows, decided at load: one run, or slices.

* A graph exported with a fixed batch dimension (torch's default ``[1, F]``) is run in slices of
  that size; the last slice is padded by repeating its final row and the padding dropped after.
* Otherwise a request of more than ``DR_ONNX_CHUNK_ROWS`` rows (``Settings.chunk_rows``) is run in
  equal slices of at most that many rows, so onnxruntime's intermediate tensors (an MLP's hidden
  layers: rows x width floats each) stay bounded whatever the request size.
* All runs of one request share one time limit, ``DR_ONNX_RUN_TIMEOUT`` (``deadline``): past
  it the run stops and the request gets a 503 naming the setting, before the server's own worker
  timeout would kill the worker and every request on it.

Chunked results are bit-identical to one run. onnxruntime picks kernels by batch size (a tree
ensemble parallelises over trees below ~64 rows, a 1-row product becomes a matrix-vector one),
and those sum floats in another order; hence equal slices, never a small remainder, and a
setting of at least ``settings.MIN_CHUNK_ROWS``. The slices' results are written into one array
allocated after the first slice, so the output is never held twice.
"""


import numpy as np
import onnxruntime as ort
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

from .deadline import time_limit, timed_out
from .errors import InputError, ModelError, RunTimeoutError
from .settings import RUN_TIMEOUT_SETTING

Feeds = dict[str, np.ndarray]


def _rows(values: np.ndarray, n_rows: int, fetch: str) -> np.ndarray:
    """``values`` when it has one row per input row; the one place the row count is checked."""
    if values.ndim == 0 or len(values) != n_rows:
        got = len(values) if values.ndim else "a scalar"
        raise ModelError(f"Output {fetch!r} returned {got} rows for {n_rows} input rows.")
    return values


class Runner:
    """Runs the session on a request's feeds as decided at load."""

    def __init__(
        self, session: ort.InferenceSession, batch: int | None, chunk_rows: int, timeout: float | None = None
    ) -> None:
        self.session = session
        self.batch = batch
        self.chunk_rows = chunk_rows
        self.timeout = timeout  # seconds for all of one request's runs (DR_ONNX_RUN_TIMEOUT); None: no limit

    def __call__(self, feeds: Feeds, fetch: str) -> np.ndarray:
        """The ``fetch`` tensor for all rows of ``feeds``, one output row per input row."""
        with time_limit(self.timeout) as options:
            return self._all_rows(feeds, fetch, options)

    def _all_rows(self, feeds: Feeds, fetch: str, options: ort.RunOptions | None) -> np.ndarray:
        n_rows = len(next(iter(feeds.values())))
        if n_rows == self.batch or (self.batch is None and n_rows <= self.chunk_rows):
            return _rows(self._run_once(feeds, fetch, options), n_rows, fetch)
        result: np.ndarray | None = None
        for start, stop in self._slices(n_rows):
            part = _rows(self._run_slice(feeds, fetch, start, stop, options), stop - start, fetch)
            if result is None:
                result = np.empty((n_rows,) + part.shape[1:], dtype=part.dtype)
            result[start:stop] = part
        assert result is not None  # n_rows > 0: at least one slice
        return result

    def _slices(self, n_rows: int) -> list[tuple[int, int]]:
        if self.batch:
            return [(start, min(start + self.batch, n_rows)) for start in range(0, n_rows, self.batch)]
        count = -(-n_rows // self.chunk_rows)
        bounds = [n_rows * i // count for i in range(count + 1)]
        return list(zip(bounds, bounds[1:], strict=False))

    def _run_slice(
        self, feeds: Feeds, fetch: str, start: int, stop: int, options: ort.RunOptions | None
    ) -> np.ndarray:
        if self.batch:
            index = np.minimum(np.arange(start, start + self.batch), stop - 1)
            return self._run_once({k: v[index] for k, v in feeds.items()}, fetch, options)[: stop - start]
        return self._run_once({k: v[start:stop] for k, v in feeds.items()}, fetch, options)

    def _run_once(self, feeds: Feeds, fetch: str, options: ort.RunOptions | None) -> np.ndarray:
        try:
            return np.asarray(self.session.run([fetch], feeds, options)[0])
        except Exception as exc:
            if timed_out(options):
                raise RunTimeoutError(
                    f"The model did not finish scoring {len(next(iter(feeds.values())))} rows within "
                    f"{RUN_TIMEOUT_SETTING}={self.timeout:g} seconds and was stopped: send fewer rows per request, "
                    f"or raise {RUN_TIMEOUT_SETTING} (it must stay below the server's worker timeout)."
                ) from exc
            kind = InputError if isinstance(exc, InvalidArgument) else ModelError
            raise kind(f"onnxruntime could not score the data: {exc}") from exc
