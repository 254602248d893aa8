"""One setting's value, from a plain environment variable or from a DataRobot runtime parameter.

DataRobot passes runtime parameters as ``MLOPS_RUNTIME_PARAM_<NAME>`` holding JSON such as
``{"type": "string", "payload": "scores"}`` (``"numeric"`` payloads arrive as numbers, ``2`` or
``2.0``; ``"boolean"`` ones as ``true``/``false``). The plain variable ``<NAME>`` wins when both
are set. Every reader takes the environment to read as ``environ`` (``os.environ`` by default).

A value that is set but unusable is a ``ModelError`` at load naming the setting, where it came
from and the value, never a silent fallback to the default.
"""

import json
import os
from collections.abc import Mapping, Sequence
from typing import overload

from .errors import ModelError

RUNTIME_PARAM_PREFIX = "MLOPS_RUNTIME_PARAM_"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

Environ = Mapping[str, str]


def _lookup(name: str, environ: Environ) -> tuple[str, str] | None:
    """``(value, where it was set)`` for setting ``name``, or None when it is not set (or empty)."""
    plain = environ.get(name, "").strip()
    if plain:
        return plain, f"environment variable {name}"
    param = RUNTIME_PARAM_PREFIX + name
    raw = environ.get(param, "").strip()
    if not raw:
        return None
    try:
        payload = json.loads(raw)["payload"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f'Runtime parameter {param} must be JSON like {{"type": "string", "payload": "..."}}; got {raw!r} ({exc})'
        ) from exc
    text = "" if payload is None else str(payload).strip()
    return (text, f"runtime parameter {param}") if text else None


def read_setting(name: str, environ: Environ = os.environ) -> str | None:
    """The value of setting ``name`` as a string, or None when it is not set (or empty)."""
    found = _lookup(name, environ)
    return found[0] if found else None


def _invalid(name: str, value: str, source: str, expected: str) -> ModelError:
    return ModelError(f"Setting {name} must be {expected}; got {value!r} (from {source}).")


@overload
def read_int(name: str, default: int, minimum: int = ..., environ: Environ = ...) -> int: ...
@overload
def read_int(name: str, default: None = ..., minimum: int = ..., environ: Environ = ...) -> int | None: ...


def read_int(name: str, default: int | None = None, minimum: int = 1, environ: Environ = os.environ) -> int | None:
    """A whole number ``>= minimum``; ``default`` when unset. ``2.0`` (a numeric runtime parameter) reads as 2."""
    found = _lookup(name, environ)
    if found is None:
        return default
    value, source = found
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or number < minimum:
        raise _invalid(name, value, source, f"a whole number >= {minimum}")
    return int(number)


def read_bool(name: str, default: bool, environ: Environ = os.environ) -> bool:
    """on/off, true/false, yes/no or 1/0 (any case); ``default`` when unset."""
    found = _lookup(name, environ)
    if found is None:
        return default
    value, source = found
    word = value.lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise _invalid(name, value, source, "on or off (also true/false, yes/no, 1/0)")


def read_choice(name: str, choices: Sequence[str], default: str, environ: Environ = os.environ) -> str:
    """One of ``choices`` (given in lower case; the value is matched in any case); ``default`` when unset."""
    found = _lookup(name, environ)
    if found is None:
        return default
    value, source = found
    if value.lower() in choices:
        return value.lower()
    raise _invalid(name, value, source, f"one of {', '.join(choices)}")
