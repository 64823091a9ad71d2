"""Alembic migrations, shipped inside the package and driven from code: no alembic.ini is needed.

The ``alembic.ini`` beside the package serves the ``alembic`` command line only (new revisions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url

from adapters.postgres.engine import connect_timeout_default, libpq_conninfo, single_use_engine

# Serializes concurrent upgrades, e.g. several workers starting at once, on one transaction-level lock.
_UPGRADE_LOCK_KEY = 0x646F_6366_6D69_6772  # "docfmigr"

_DATABASE_NAMES_INDEX = "pg_database_datname_index"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent))
    return config


def create_database_if_missing(database_url: str) -> bool:
    """Creates the database the URL names when the server has none of that name; True if it did,
    False if it was there, or another ``migrate`` running at the same moment created it first.

    The server's ``postgres`` database is only opened when the URL's own cannot be: a role that may not
    connect there (as on many managed servers) can still migrate a database that exists."""
    name = make_url(database_url).database
    if not name:
        raise ValueError("the database URL names no database")
    try:
        psycopg.connect(_with_timeout(database_url)).close()
        return False
    except psycopg.OperationalError:
        pass  # most often no database of that name (libpq gives no code for it); else the next connect says
    with _server_connection(database_url) as connection:
        if _has_database(connection, name):
            return False
        try:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:  # another ``migrate`` created it since the look above
            return False
        except psycopg.errors.UniqueViolation as error:
            # Or was creating it at the same moment: a CREATE DATABASE that has not committed is not
            # seen by the look nor by CREATE DATABASE's own check, and the second insert of the name
            # waits for the first, then fails on the catalog's unique index. Either way it exists; the
            # upgrade that follows waits for the other's on the advisory lock.
            if error.diag.constraint_name != _DATABASE_NAMES_INDEX:
                raise
            return False
    return True


def is_missing(database_url: str) -> bool:
    """Whether the server answers, on its ``postgres`` database, and has no database of the URL's name:
    what a failed connection to the URL most often means, which libpq gives no code for."""
    with _server_connection(database_url) as connection:
        return not _has_database(connection, make_url(database_url).database or "")


def _server_connection(database_url: str) -> psycopg.Connection[Any]:
    admin = _with_timeout(make_url(database_url).set(database="postgres"))
    return psycopg.connect(admin, autocommit=True)


def _has_database(connection: psycopg.Connection[Any], name: str) -> bool:
    return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _with_timeout(database_url: str | URL) -> str:
    """The URL's connection string, with ten seconds to connect unless the URL sets its own."""
    return make_conninfo(libpq_conninfo(database_url), **connect_timeout_default(database_url))


class UnknownRevision(RuntimeError):
    """The database is at a revision this version does not have: a newer version migrated it."""

    def __init__(self, revisions: set[str]) -> None:
        names = ", ".join(sorted(revisions))
        unknown = f"the database is at revision {names}, which this version does not know"
        super().__init__(f"{unknown}: a newer version migrated it")


def upgrade_to_head(database_url: str) -> None:
    """Applies every migration not yet applied, in one transaction; ``UnknownRevision`` if the database
    is ahead of this version."""
    config = alembic_config()
    with single_use_engine(database_url) as engine, engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
        _refuse_unknown(_current_revisions(connection), _scripts())
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def is_at_head(database_url: str) -> bool:
    """Whether the schema is at this version's latest migration; ``UnknownRevision`` if it is ahead."""
    with single_use_engine(database_url) as engine, engine.connect() as connection:
        current = _current_revisions(connection)
    scripts = _scripts()
    _refuse_unknown(current, scripts)
    return current == set(scripts.get_heads())


def _current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _refuse_unknown(current: set[str], scripts: ScriptDirectory) -> None:
    known = {script.revision for script in scripts.walk_revisions()}
    if current - known:
        raise UnknownRevision(current - known)
