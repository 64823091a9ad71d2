"""Array parameters as Postgres array literals, for statements that cast them (``%s::text[]``).

psycopg works out the element type of a list parameter afresh on every execution, about 40 µs a list;
a statement of a batch or a commit carries up to seven. A literal is dumped as a plain string, and the
cast in the SQL tells Postgres the type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

# Postgres text cannot hold NUL, so it can stand between the values while they are escaped together.
_SEPARATOR = "\x00"


def text_array(values: Iterable[str | None]) -> str:
    """``{"a","b",NULL}``: every value double-quoted, so no character but ``"`` and ``\\`` is special.

    Without NULLs, the values are escaped in one pass over them joined, rather than one by one."""
    texts = list(values)
    if not texts:
        return "{}"
    if None in texts:
        return "{" + ",".join("NULL" if value is None else _quoted(value) for value in texts) + "}"
    joined = _SEPARATOR.join(cast(list[str], texts))
    if joined.count(_SEPARATOR) != len(texts) - 1:
        raise ValueError("Postgres text cannot hold a NUL character")
    return '{"' + _escaped(joined).replace(_SEPARATOR, '","') + '"}'


def bigint_array(values: Iterable[int]) -> str:
    return "{" + ",".join(str(int(value)) for value in values) + "}"


def _quoted(value: str) -> str:
    if _SEPARATOR in value:
        raise ValueError("Postgres text cannot hold a NUL character")
    return '"' + _escaped(value) + '"'


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
