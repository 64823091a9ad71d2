"""`docfleet migrate` on a fresh server: the database is created when missing, left alone when present."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from adapters.postgres.engine import libpq_conninfo
from adapters.postgres.migrations import MigrationRefused, create_database_if_missing, upgrade_to_head
from tests.support.services import default_settings, throwaway_database, unique_name

pytestmark = pytest.mark.integration


def _exists(admin: str, name: str) -> bool:
    with psycopg.connect(admin, autocommit=True) as connection:
        row = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def test_a_missing_database_is_created_once() -> None:
    base = make_url(default_settings().database_url)
    name = unique_name("docfleet_test")
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = libpq_conninfo(base.set(database="postgres"))
    try:
        assert create_database_if_missing(url) is True
        assert _exists(admin, name)
        assert create_database_if_missing(url) is False
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_existing_database_is_found_without_opening_the_servers_postgres_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A role that may not connect to ``postgres`` (as on many managed servers) can still migrate."""
    opened: list[object] = []
    connect = psycopg.connect

    def recording(conninfo: str, **kwargs: object) -> psycopg.Connection[tuple[object, ...]]:
        opened.append(psycopg.conninfo.conninfo_to_dict(conninfo).get("dbname"))
        return connect(conninfo, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg, "connect", recording)
    assert create_database_if_missing(database_url) is False
    assert opened == [make_url(database_url).database]


def test_options_with_spaces_in_the_url_reach_postgres_whole(database_url: str) -> None:
    url = make_url(database_url).update_query_dict({"options": "-c statement_timeout=4321"})
    assert create_database_if_missing(url.render_as_string(hide_password=False)) is False
    with psycopg.connect(libpq_conninfo(url)) as connection:
        row = connection.execute("SHOW statement_timeout").fetchone()
    assert row == ("4321ms",)


@pytest.mark.parametrize(("query", "expected"), [({"connect_timeout": "3"}, "3"), ({}, "10")])
def test_the_urls_own_connect_timeout_is_kept(
    database_url: str, monkeypatch: pytest.MonkeyPatch, query: dict[str, str], expected: object
) -> None:
    """Ten seconds is only the default: a URL that sets its own timeout keeps it."""
    timeouts: list[object] = []
    connect = psycopg.connect

    def recording(conninfo: str, **kwargs: object) -> psycopg.Connection[tuple[object, ...]]:
        in_conninfo = psycopg.conninfo.conninfo_to_dict(conninfo).get("connect_timeout")
        timeouts.append(kwargs.get("connect_timeout", in_conninfo))
        return connect(conninfo, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg, "connect", recording)
    url = make_url(database_url).update_query_dict(query)
    assert create_database_if_missing(url.render_as_string(hide_password=False)) is False
    assert timeouts == [expected]


@pytest.mark.timeout(120)
def test_two_migrates_creating_the_same_database_at_once_both_find_it_there() -> None:
    """Both look, find no database, and send CREATE DATABASE: the second insert of the name waits for the
    first's transaction, then fails on the catalog's unique index. Holding the catalog's lock until both
    are waiting on it makes that interleaving certain."""
    base = make_url(default_settings().database_url)
    name = unique_name("docfleet_test")
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = libpq_conninfo(base.set(database="postgres"))
    created: list[bool] = []
    failed: list[BaseException] = []

    def migrate_creates() -> None:
        try:
            created.append(create_database_if_missing(url))
        except BaseException as error:  # told by the assertion below, not lost in the thread
            failed.append(error)

    try:
        with psycopg.connect(admin) as holder:
            holder.execute("LOCK TABLE pg_catalog.pg_database IN SHARE MODE")
            runs = [threading.Thread(target=migrate_creates) for _ in range(2)]
            for run in runs:
                run.start()
            _until_creating_behind(holder.info.backend_pid, name, admin, 2)
            holder.rollback()
        for run in runs:
            run.join()
        assert failed == []
        assert sorted(created) == [False, True]
        assert _exists(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _until_creating_behind(holder_pid: int, name: str, admin: str, count: int) -> None:
    """Until ``count`` sessions creating ``name`` wait on the holder's lock: another run's CREATE DATABASE
    waits there too, and must not be counted."""
    waiting = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE %s = ANY(pg_blocking_pids(pid)) AND query ILIKE 'CREATE DATABASE%%' AND strpos(query, %s) > 0"
    )
    with psycopg.connect(admin, autocommit=True) as connection:
        deadline = time.monotonic() + 60
        while (row := connection.execute(waiting, (holder_pid, name)).fetchone()) is None or row[0] < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{count} CREATE DATABASE never waited on pg_database")
            time.sleep(0.02)


@pytest.mark.parametrize("encoding", ["LATIN1", "SQL_ASCII"])
def test_a_database_in_another_encoding_is_refused_before_any_migration(
    database_url: str, encoding: str
) -> None:
    """Migrated, a LATIN1 database would refuse every folder (0008's index normalizes names in UTF8
    alone); on SQL_ASCII the upgrade's own connection failed with a traceback."""
    options = f"ENCODING '{encoding}' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
    with throwaway_database(database_url, options=options) as url:
        with pytest.raises(
            MigrationRefused, match=f"encoding is {encoding}, and docfleet's schema needs UTF8"
        ):
            upgrade_to_head(url)
        with psycopg.connect(libpq_conninfo(url)) as connection:
            tables = connection.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()
    assert tables == (0,)


@pytest.mark.parametrize("encoding", ["LATIN1", "SQL_ASCII"])
def test_the_schema_gate_and_health_tell_a_database_in_another_encoding_as_migrate_does(
    database_url: str, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    """On SQL_ASCII, whose answers SQLAlchemy cannot read as text, health said only "cannot use a string
    pattern on a bytes-like object"."""
    from workers.cli.health import _postgres, _schema
    from workers.schema_gate import DATABASE_UNUSABLE, require_schema

    options = f"ENCODING '{encoding}' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
    told = f"the database's encoding is {encoding}, and docfleet's schema needs UTF8"
    with throwaway_database(database_url, options=options) as url:
        reachable, server = _postgres(url)
        checked = _schema(url)
        with pytest.raises(SystemExit) as gate:
            require_schema(url)

    assert reachable
    assert "b'" not in server
    assert checked[0] is False
    assert checked[1].startswith(told)
    assert gate.value.code == DATABASE_UNUSABLE, "no restart makes such a database usable"
