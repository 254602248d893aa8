"""DRUM hooks that serve an ONNX model by the DataRobot ONNX environment's contract.

A model folder's ``custom.py`` can be the single line::

    from dr_onnx_hooks import load_model, score

or, to accept JSON and Arrow bodies besides CSV and Matrix Market, with bounded and checked parsing::

    from dr_onnx_hooks import load_model, score, read_input_data

Only ``load_model`` and ``score`` are exported by ``import *``: DRUM treats any ``init``,
``transform``, ``read_input_data``, ``post_process``... found in ``custom.py`` as a hook, so each
further hook must be imported by name.
"""

from .hooks import load_model, read_input_data, score

__all__ = ["load_model", "score"]
__version__ = "0.1.0"
