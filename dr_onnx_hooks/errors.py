"""The package's one exception type."""

from datarobot_drum import CustomHTTPError

UNPROCESSABLE = 422  # the caller's data cannot be scored as sent
MODEL_FAULT = 500  # the model (or its export) breaks the contract, whatever the caller sends


class DrOnnxError(CustomHTTPError):
    """Every error raised by dr_onnx_hooks.

    It is a DRUM ``CustomHTTPError``: DRUM's server answers with ``status_code`` and the message
    as ``{"message": ...}`` instead of a generic 500, and keeps serving. At load time DRUM
    reports the message as the reason the model failed to load.
    """

    def __init__(self, message: str, status_code: int = UNPROCESSABLE) -> None:
        super().__init__(message, status_code)
