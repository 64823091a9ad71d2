"""Every connection tells Postgres which docfleet component opened it (``pg_stat_activity``, the
server's log), unless the operator names it: by the URL's ``application_name`` or ``PGAPPNAME``."""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, make_url

from adapters.postgres.engine import create_engine, create_single_use_engine, psycopg_connection
from adapters.postgres.relay_connections import _dedicated_connection
from workers.bootstrap import _worker_engine

pytestmark = pytest.mark.integration


def _name_of(connection: psycopg.Connection[Any]) -> str:
    row = connection.execute("SELECT current_setting('application_name')").fetchone()
    assert row is not None
    return str(row[0])


def _pooled_name(engine: Engine) -> str:
    pooled = engine.raw_connection()
    try:
        return _name_of(psycopg_connection(pooled))
    finally:
        pooled.close()
        engine.dispose()


def test_a_pooled_engine_names_its_connections(database_url: str) -> None:
    assert (
        _pooled_name(create_engine(database_url, pool_size=1, application_name="docfleet-x")) == "docfleet-x"
    )


def test_a_single_use_engine_names_its_connections(database_url: str) -> None:
    engine = create_single_use_engine(database_url, application_name="docfleet-y")
    assert _pooled_name(engine) == "docfleet-y"


def test_a_connection_outside_the_pool_has_its_engines_name(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, application_name="docfleet-relay")
    try:
        with _dedicated_connection(engine) as leaders:
            assert _name_of(leaders) == "docfleet-relay"
    finally:
        engine.dispose()


def test_a_worker_names_its_connections_with_its_process_id(database_url: str) -> None:
    assert _pooled_name(_worker_engine(database_url, 1)) == f"docfleet-worker pid {os.getpid()}"


def test_the_urls_own_name_wins(database_url: str) -> None:
    url = make_url(database_url).update_query_dict({"application_name": "ops-choice"})
    engine = create_engine(
        url.render_as_string(hide_password=False), pool_size=1, application_name="docfleet-x"
    )
    assert _pooled_name(engine) == "ops-choice"


def test_pgappname_wins(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGAPPNAME", "ops-environment")
    assert (
        _pooled_name(create_engine(database_url, pool_size=1, application_name="docfleet-x"))
        == "ops-environment"
    )
