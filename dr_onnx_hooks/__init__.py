"""DRUM hooks that serve an ONNX model by the DataRobot ONNX environment's contract.

A model folder's ``custom.py`` can be the single line::

    from dr_onnx_hooks import load_model, score

Only those two names are exported: DRUM treats any ``init``, ``transform``, ``read_input_data``,
``post_process``... found in ``custom.py`` as a hook, so ``import *`` must not bring more.
"""

from .hooks import load_model, score

__all__ = ["load_model", "score"]
__version__ = "0.1.0"
