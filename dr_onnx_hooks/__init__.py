"""DRUM hooks that serve an ONNX model by the DataRobot ONNX environment's contract.

A model folder's ``custom.py`` is the single line::

    from dr_onnx_hooks import load_model, read_input_data, score

(``from dr_onnx_hooks import *`` imports the same three). ``read_input_data`` reads the request
itself: CSV columns that feed string inputs stay text as sent (``02134``, ``NA``), JSON and Arrow
bodies are accepted, parsing is bounded. ``from dr_onnx_hooks import load_model, score`` works
too, but leaves the request to DRUM's parser, which reads ``02134`` as the number 2134 and ``NA``
as missing: ``load_model`` warns when such a model has string inputs.
"""

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hooks import load_model, read_input_data, score

# DRUM leaves the root logger at WARNING (--logging-level); the one line per loaded model and our
# warnings are meant to be seen, so the package logs at INFO unless the host configured it otherwise.
if logging.getLogger(__name__).level == logging.NOTSET:
    logging.getLogger(__name__).setLevel(logging.INFO)

__all__ = ["load_model", "read_input_data", "score"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The hooks (onnxruntime, pandas...) are imported when first asked for, not with the package:
    # gunicorn's master process imports the image's worker class (dr_onnx_hooks.workers) before it
    # forks its workers, and onnxruntime imported before a fork aborts the worker when it exits.
    if name in __all__:
        from . import hooks

        return getattr(hooks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
