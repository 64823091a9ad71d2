"""Reading Postgres's plans in tests: which scans read a table, or an index, whole."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from typing import Any

import psycopg

_INDEX_SCANS = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
_TABLE_SCANS = ("Seq Scan", *_INDEX_SCANS, "Bitmap Heap Scan")


def plan_of(connection: psycopg.Connection[Any], sql: str, params: Any = None) -> dict[str, Any]:
    """The root node of the plan Postgres makes for ``sql`` (with ``params``, if any)."""
    row = connection.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return dict(plan[0]["Plan"])


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def leading_columns(connection: psycopg.Connection[Any]) -> dict[str, tuple[str, str]]:
    """Each index of the public schema: (its table, its first column, or expression, as Postgres writes
    it in a plan's index condition)."""
    rows = connection.execute(
        "SELECT i.relname, t.relname, pg_get_indexdef(x.indexrelid, 1, true) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " WHERE t.relnamespace = 'public'::regnamespace"
    ).fetchall()
    return {index: (table, column) for index, table, column in rows}


def unbounded_scans(
    plan: dict[str, Any], indexes: dict[str, tuple[str, str]], tables: Collection[str] | None = None
) -> list[str]:
    """The scans of ``plan`` (of ``tables``, or of any table) that read a table or an index whole: a
    sequential scan, or an index scan whose condition does not bound the index's first column, which
    then reads every entry of the index."""
    found = []
    for node in nodes(plan):
        kind = node["Node Type"]
        if kind not in _TABLE_SCANS:
            continue
        table, column = indexes.get(node.get("Index Name", ""), (node.get("Relation Name"), None))
        if tables is not None and table not in tables:
            continue
        if kind == "Seq Scan":
            found.append(f"Seq Scan on {table}")
        elif kind in _INDEX_SCANS and not _bounds(node.get("Index Cond", ""), column):
            found.append(
                f"{kind} of {node['Index Name']} on {table}: {node.get('Index Cond', 'no condition')}"
            )
    return found


def _bounds(condition: str, column: str | None) -> bool:
    """Whether ``condition`` compares ``column`` (as Postgres writes an index condition: column first)."""
    return (
        column is not None
        and re.search(rf"(^|[\s(.]){re.escape(column)} (=|<|>|<=|>=) ", condition) is not None
    )
