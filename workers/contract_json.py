"""JSON as the contract reads it (docs/contract.md §1): stricter than ``json.loads`` where a lenient
reader would take a message other readers refuse, or read a value other than the one written."""

from __future__ import annotations

import json
import math
from typing import Any

EXACT_FLOAT_INTEGERS = 2**53  # what a double holds exactly, as any JSON reader reads numbers


def load_json(text: str) -> Any:
    """A key repeated in one object, NaN or Infinity, or a number too large for a double (``1e400``)
    raises ``ValueError``, as a syntax error does. A number written with a fraction or an exponent whose
    value is whole (``10.0``, ``1e2``) is that integer, as JSON Schema's ``integer`` reads it."""
    return _CONTRACT_JSON.decode(text)


def _whole_as_int(text: str) -> int | float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: what Infinity, refused as such, would be
        raise ValueError(f"number out of range: {text[:40]}")
    # Beyond 2**53 a float no longer holds every integer: its value is not the one written.
    return int(number) if number.is_integer() and abs(number) <= EXACT_FLOAT_INTEGERS else number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return fields


def refuse_constant(name: str) -> Any:
    """``json.loads``'s ``parse_constant``: NaN, Infinity and -Infinity are not JSON numbers."""
    raise ValueError(f"{name} is not a JSON number")


# Every envelope is read with it, in the consumer thread. One decoder serves every call and thread, as the
# one ``json.loads`` keeps for its defaults does; given hooks, ``json.loads`` builds a new one per call.
_CONTRACT_JSON = json.JSONDecoder(
    object_pairs_hook=_unique_keys, parse_constant=refuse_constant, parse_float=_whole_as_int
)
