"""Values and names as messages and logs show them: quoted, escaped, capped.

A message must not echo a request back (a 100 MB cell, 10,000 long column names), and a name
must not forge a log line (a newline in a column or input name). So every value or name that
comes from a request or a model file goes through ``quoted`` (one value) or ``listed`` (many):
``repr``-style escapes (``\\n`` stays two characters), at most ``SHOWN`` characters of it with the
whole length said, and at most ``LISTED`` items with the count of the rest. Cell values are shown
only when ``DR_ONNX_LOG_VALUES`` is on (``Settings.show_values``): otherwise a message says which
row and column, and the value's kind and length, never its content.
"""

from collections.abc import Iterable

SHOWN = 80  # characters of one value or name
LISTED = 20  # names in one list
MESSAGE = 4_000  # characters of a whole message, whatever it holds


def quoted(value: object, limit: int = SHOWN) -> str:
    """``value`` as ``repr`` would write a string (quotes, escapes), cut to ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def escaped(text: object, limit: int = SHOWN) -> str:
    """``text`` as it is when printable, else with ``repr``-style escapes; cut to ``limit`` characters."""
    text = text if isinstance(text, str) else str(text)
    shown = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else f"{shown[:limit]}… ({len(text)} characters)"


def listed(values: Iterable[object], limit: int = LISTED) -> str:
    """``a, b, c``: each quoted and escaped, at most ``limit`` of them, then how many more."""
    items = list(values)
    shown = ", ".join(quoted(v) for v in items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "") if items else "(none)"


def capped(message: str, limit: int = MESSAGE) -> str:
    """A whole message cut to ``limit`` characters, saying so."""
    return message if len(message) <= limit else f"{message[:limit]}… (message cut at {limit} characters)"
