"""A message's problems in words a person can act on: each one pydantic found, as ``field: what is
wrong``, never echoing the value, and at most ``MAX_PROBLEMS`` of them."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from workers.contract_fields import PATTERN_HELP

MAX_PROBLEMS = 20
_JSON_TYPES = {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "an array"}


def cap(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]


def problems_of(error: ValidationError, of: str = "this actor") -> list[str]:
    """Each problem pydantic found; ``of`` names what an unknown field is not a field of."""
    return [_problem(detail, of) for detail in error.errors(include_url=False)]


def _problem(detail: Any, of: str) -> str:
    where = ".".join(_location(part) for part in detail["loc"]) or "kwargs"
    kind, context = detail["type"], detail.get("ctx", {})
    if kind == "missing":
        return f"{where}: is required"
    if kind == "extra_forbidden":
        return f"{where}: is not a field of {of}"
    if kind == "string_pattern_mismatch":
        return f"{where}: {PATTERN_HELP.get(context.get('pattern'), detail['msg'])}"
    if kind in ("value_error", "assertion_error"):
        return f"{where}: {context.get('error', detail['msg'])}"
    if kind == "string_unicode":
        return f"{where}: must be valid Unicode text (no lone surrogates)"
    if kind == "model_type":
        return f"{where}: must be a JSON object of keyword arguments"
    message = f"{where}: {detail['msg'][0].lower()}{detail['msg'][1:]}"
    if kind.endswith("_type"):
        value = detail.get("input")
        return f"{message}, not {_json_type(value)}"
    return message


def _json_type(value: object) -> str:
    """What a wrong value is, in JSON's words; a Python value JSON has no word for (a tuple given to
    the client, say) by its type's name."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    return _JSON_TYPES.get(type(value), f"a {type(value).__name__}")


def _location(part: str | int) -> str:
    text = str(part)
    return text if re.fullmatch(r"[a-z_0-9]{1,32}", text) else repr(text[:32])
