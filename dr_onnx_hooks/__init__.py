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

from .hooks import load_model, read_input_data, score

# DRUM leaves the root logger at WARNING (--logging-level); the one line per loaded model and our
# warnings are meant to be seen, so the package logs at INFO unless the host configured it otherwise.
if logging.getLogger(__name__).level == logging.NOTSET:
    logging.getLogger(__name__).setLevel(logging.INFO)

__all__ = ["load_model", "read_input_data", "score"]
__version__ = "0.1.0"
