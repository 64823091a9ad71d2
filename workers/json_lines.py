"""A log line's JSON, written by msgspec when it can be: a worker writes a line for every message.

structlog's ``JSONRenderer`` calls ``json.dumps`` with a ``default``, which builds a new encoder for
every line: 4.5 µs for an outcome line, against 0.7 µs for msgspec. msgspec writes only a line whose
values are all texts, numbers, booleans or nulls, and comes out ASCII: there the two agree but for
spaces, and for a NaN or an infinity, which JSON has no number for and msgspec writes as null. Any
other line is written by ``json.dumps``, with the same compact separators: a value of another type as
structlog's ``default`` renders it (a ``repr``), a character beyond ASCII escaped, and a NaN or an
infinity as null there too (``json.dumps`` would write ``NaN``, which no strict JSON reader takes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import msgspec

_SCALARS = frozenset({str, int, float, bool, type(None)})
_ENCODER = msgspec.json.Encoder()


def json_line(event_dict: dict[str, Any], default: Callable[[Any], Any] | None = None) -> str:
    """A serializer for ``structlog.processors.JSONRenderer``, which passes its ``default``."""
    try:
        if all(type(value) in _SCALARS for value in event_dict.values()):
            text = _ENCODER.encode(event_dict).decode()
            if text.isascii():
                return text
        return json.dumps(finite(event_dict), default=default, separators=(",", ":"), allow_nan=False)
    except ValueError:  # an integer of more digits than Python writes out (4,300): the line still goes
        return json.dumps(_each_leaf(event_dict, _writable), default=default, separators=(",", ":"))


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity, in any dict, list or tuple of it, as None (JSON's null)."""
    return _each_leaf(value, _finite)


def _each_leaf(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``value`` with ``leaf`` applied to each value, in any dict, list or tuple of it, that is none."""
    if isinstance(value, dict):
        return {key: _each_leaf(item, leaf) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_each_leaf(item, leaf) for item in value]
    return leaf(value)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _writable(value: Any) -> Any:
    """Finite, and an integer too long to be written in decimal given by its size instead."""
    if isinstance(value, int) and value.bit_length() > _WRITTEN_BITS:
        return f"<an integer of {value.bit_length()} bits>"
    return _finite(value)


_WRITTEN_BITS = 4096  # under Python's 4,300 decimal digits (sys.get_int_max_str_digits)
