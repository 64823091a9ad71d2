"""`docfleet migrate` on a fresh server: the database is created when missing, left alone when present."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from adapters.postgres.engine import libpq_conninfo
from adapters.postgres.migrations import create_database_if_missing
from tests.support.services import default_settings, unique_name

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
