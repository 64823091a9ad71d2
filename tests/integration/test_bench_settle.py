"""The benchmark vacuums and analyzes its database between phases, as autovacuum would."""

from __future__ import annotations

import psycopg
import pytest

from adapters.postgres.engine import libpq_conninfo
from bench.resources import settle_database

pytestmark = pytest.mark.integration

_TABLES = ("documents", "inbox", "outbox")


def test_every_table_is_vacuumed_and_analyzed(fresh_database_url: str) -> None:
    conninfo = libpq_conninfo(fresh_database_url)
    assert _vacuumed_and_analyzed(conninfo) == {}

    settle_database(fresh_database_url)

    assert _vacuumed_and_analyzed(conninfo) == dict.fromkeys(_TABLES, (True, True))


def _vacuumed_and_analyzed(conninfo: str) -> dict[str, tuple[bool, bool]]:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT relname, last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables"
            " WHERE relname = ANY(%s) AND (last_vacuum IS NOT NULL OR last_analyze IS NOT NULL)",
            (list(_TABLES),),
        ).fetchall()
    return {name: (vacuumed, analyzed) for name, vacuumed, analyzed in rows}
