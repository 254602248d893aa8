"""DRUM hooks that serve an ONNX model by the DataRobot ONNX environment's contract.

A model folder's ``custom.py`` can be the single line::

    from dr_onnx_hooks import load_model, score

or, to accept JSON and Arrow bodies besides CSV and Matrix Market, with bounded and checked parsing::

    from dr_onnx_hooks import load_model, score, read_input_data

Only ``load_model`` and ``score`` are exported by ``import *``: DRUM treats any ``init``,
``transform``, ``read_input_data``, ``post_process``... found in ``custom.py`` as a hook, so each
further hook must be imported by name.
"""

import logging

from .hooks import load_model, read_input_data, score

# DRUM leaves the root logger at WARNING (--logging-level); the one line per loaded model and our
# warnings are meant to be seen, so the package logs at INFO unless the host configured it otherwise.
if logging.getLogger(__name__).level == logging.NOTSET:
    logging.getLogger(__name__).setLevel(logging.INFO)

__all__ = ["load_model", "score"]
__version__ = "0.1.0"
