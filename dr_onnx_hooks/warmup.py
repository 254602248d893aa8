"""One run at load on made-up input, so the first real request does not pay for onnxruntime's
lazy set-up (memory arena, kernel state, thread pool start).

The input is zeros of each input's declared type (``""`` for strings), one row, or the fixed
batch when the graph declares one. Warming up is best effort: an input that cannot be made up
(a symbolic dimension beyond the batch, a non-tensor type) or a run that fails on zeros (a
graph that rejects ``""``) skips it with a debug log; the model still loads.
"""

import logging
import time
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from .deadline import time_limit, timed_out
from .inputs import FLOAT_TYPES, INT_TYPES
from .settings import WARMUP_TIMEOUT_SETTING

logger = logging.getLogger(__name__)

ZERO_TYPES = {**FLOAT_TYPES, **INT_TYPES, "tensor(bool)": np.bool_}


def synthetic_feeds(inputs: Sequence[ort.NodeArg]) -> dict[str, np.ndarray] | None:
    """Zeros (``""`` for strings) shaped as each input declares; None when an input cannot be made up."""
    feeds = {}
    for model_input in inputs:
        shape = list(model_input.shape)
        if shape and not isinstance(shape[0], int):
            shape[0] = 1
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            logger.debug("Warm-up skipped: input %r has shape %s, not fixed beyond the batch.", model_input.name, shape)
            return None
        if model_input.type == "tensor(string)":
            feeds[model_input.name] = np.full(shape, "", dtype=object)
        elif model_input.type in ZERO_TYPES:
            feeds[model_input.name] = np.zeros(shape, dtype=ZERO_TYPES[model_input.type])
        else:
            logger.debug("Warm-up skipped: input %r is %s.", model_input.name, model_input.type)
            return None
    return feeds


def warm_up(session: ort.InferenceSession, timeout: float | None = None) -> dict[str, np.ndarray] | None:
    """Run ``session`` once on made-up input and return every output by name; None (with a debug
    log) when that is not possible. ``plan`` reads the outputs to judge what the graph left open.

    A run longer than ``timeout`` seconds (``DR_ONNX_WARMUP_TIMEOUT``) is stopped with a warning:
    a slow model must not hold the start, and every restarted worker, without bound."""
    feeds = synthetic_feeds(session.get_inputs())
    if feeds is None:
        return None
    start = time.perf_counter()
    with time_limit(timeout) as limited:
        options = limited or ort.RunOptions()
        options.log_severity_level = 4  # a failure on made-up input is expected, not worth onnxruntime's error log
        try:
            values = session.run(None, feeds, options)
        except Exception as exc:  # any failure on made-up data only means no warm-up
            if timed_out(limited):
                logger.warning(
                    "Warm-up stopped after %.0f s (%s); the model loads without it.", timeout, WARMUP_TIMEOUT_SETTING
                )
            else:
                logger.debug("Warm-up skipped: the run on made-up input failed: %s", exc)
            return None
    logger.debug("Warm-up run took %.1f ms", (time.perf_counter() - start) * 1e3)
    return {o.name: value for o, value in zip(session.get_outputs(), values, strict=True)}
