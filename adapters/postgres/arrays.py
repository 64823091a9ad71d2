"""Array parameters as Postgres array literals, for statements that cast them (``%s::text[]``).

psycopg works out the element type of a list parameter afresh on every execution, about 40 µs a list;
a statement of a batch or a commit carries up to seven. A literal is dumped as a plain string, and the
cast in the SQL tells Postgres the type.
"""

from __future__ import annotations

from collections.abc import Iterable


def text_array(values: Iterable[str | None]) -> str:
    """``{"a","b",NULL}``: every value double-quoted, so no character but ``"`` and ``\\`` is special."""
    return "{" + ",".join("NULL" if value is None else _quoted(value) for value in values) + "}"


def bigint_array(values: Iterable[int]) -> str:
    return "{" + ",".join(str(int(value)) for value in values) + "}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
