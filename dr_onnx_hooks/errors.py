"""Errors by kind: one base type, one subclass per HTTP status.

Every error is a DRUM ``CustomHTTPError``: DRUM's server answers with its ``status_code`` and the
message as ``{"message": ...}`` instead of a generic 500, and keeps serving. At load time DRUM
reports the message as the reason the model failed to load. Messages say what to do about it,
and are capped (``quoting``): an error never echoes a whole request back.
"""

from http import HTTPStatus
from typing import ClassVar

from datarobot_drum import CustomHTTPError

from .quoting import capped


class DrOnnxError(CustomHTTPError):
    """Every error raised by dr_onnx_hooks; catch this one. Raise a subclass, which sets the status."""

    status: ClassVar[HTTPStatus] = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(capped(message), int(self.status))


class InputError(DrOnnxError):
    """The caller's data cannot be scored as sent (422): a missing column, text in a number column..."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class TooLargeError(DrOnnxError):
    """The request holds more than the limits allow (413)."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class ModelError(DrOnnxError):
    """The model, its export or a setting breaks the contract, whatever the caller sends (500).

    Raised while loading, it fails the load (DRUM's error server answers 513 with the message).
    """

    status = HTTPStatus.INTERNAL_SERVER_ERROR


class RunTimeoutError(DrOnnxError):
    """The model did not finish within the time allowed for one request (503); the server lives on."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
