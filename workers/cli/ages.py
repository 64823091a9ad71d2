"""Ages given on the command line: ``7d``, ``12h``, ``30m``, ``90s``."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

_DURATION = re.compile(r"^(?P<amount>\d+)(?P<unit>[smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


MAX_AGE = timedelta(days=36_500)  # a century: older than any row, and within Postgres's time range
_MAX_DIGITS = 30


def parse_age(value: str, option: str = "--older-than") -> timedelta:
    """``7d``, ``12h``, ``30m`` or ``90s``, given as ``option``, which an error names."""
    hint = f"'{option}'"
    found = _DURATION.match(value.strip())
    if found is None:
        raise typer.BadParameter(
            f"expected a number and s, m, h or d (e.g. 7d), got {value!r}", param_hint=hint
        )
    if len(found["amount"]) > _MAX_DIGITS:  # past any age, and past what int() will read
        raise typer.BadParameter(f"at most {MAX_AGE.days} days, got {value[:20]!r}...", param_hint=hint)
    try:
        age = timedelta(**{_UNITS[found["unit"]]: int(found["amount"])})
    except OverflowError:
        age = timedelta.max
    if age > MAX_AGE:
        raise typer.BadParameter(f"at most {MAX_AGE.days} days, got {value!r}", param_hint=hint)
    return age
