"""Alembic migrations, shipped inside the package and driven from code: no alembic.ini is needed.

The ``alembic.ini`` beside the package serves the ``alembic`` command line only (new revisions).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from adapters.postgres.database_encoding import encoding_problem, with_connect_timeout
from adapters.postgres.engine import single_use_engine
from adapters.postgres.schema_revisions import ForeignRevision as ForeignRevision  # raised here
from adapters.postgres.schema_revisions import UnknownRevision as UnknownRevision  # raised here
from adapters.postgres.schema_revisions import is_at_head as is_at_head  # the callers' own name
from adapters.postgres.schema_revisions import refuse_unknown

# Serializes concurrent upgrades, e.g. several workers starting at once, on one session-level lock.
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
        psycopg.connect(with_connect_timeout(database_url)).close()
        return False
    except psycopg.OperationalError:
        pass  # most often no database of that name (libpq gives no code for it); else the next connect says
    with _server_connection(database_url) as connection:
        if _has_database(connection, name):
            return False
        try:
            # UTF8 whatever template1's encoding: 0008's index normalizes names, which needs it.
            create = sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0")
            connection.execute(create.format(sql.Identifier(name)))
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
    what a failed connection to the URL most often means, which libpq gives no code for. False when the
    server cannot say either: the failed connection's own error is then the one to tell."""
    try:
        with _server_connection(database_url) as connection:
            return not _has_database(connection, make_url(database_url).database or "")
    except Exception:
        return False


def _server_connection(database_url: str) -> psycopg.Connection[Any]:
    admin = with_connect_timeout(make_url(database_url).set(database="postgres"))
    return psycopg.connect(admin, autocommit=True)


def _has_database(connection: psycopg.Connection[Any], name: str) -> bool:
    return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


@dataclass(frozen=True)
class LockPatience:
    """How long the upgrade waits for each table lock it needs, and how often it tries again.

    A migration that waits for a table lock holds up every later taker of that table behind it (Postgres
    queues them): 0006's index on the outbox, say, waiting behind a long transaction that wrote to the
    outbox, would hold every command's commit for as long as that transaction lasts. So each wait is cut
    short, the transaction rolled back (the commands go on), and the upgrade tried again a little later.
    Each wait stays under the workers' statement timeout (5 s, ``workers.bootstrap``), so that a command
    queued behind it is delayed, not failed and retried.
    """

    lock_timeout_s: float = 2.0
    attempts: int = 6
    first_retry_s: float = 1.0
    """Seconds between the first failed try and the next; doubled after each, up to ``max_retry_s``."""
    max_retry_s: float = 15.0


@dataclass(frozen=True)
class LockWait:
    """A try that gave up waiting for a lock: its number, of how many, and the seconds until the next."""

    attempt: int
    attempts: int
    lock_timeout_s: float
    retry_in_s: float


class MigrationRefused(RuntimeError):
    """A migration found rows it cannot carry over and changed nothing (those before it are applied);
    its message says what to do."""


class MigrationBlocked(RuntimeError):
    """Every try of a migration gave up waiting for a table lock; it and the later ones are not applied,
    those before it are."""

    def __init__(self, patience: LockPatience) -> None:
        tries = f"{patience.attempts} tries each waited {patience.lock_timeout_s:g} s"
        super().__init__(
            f"the migration could not take its locks: {tries} for a lock on a table it changes. Which one"
            " is not known: a long transaction holds a table (see pg_stat_activity). That migration and"
            " the later ones are not applied. End that transaction, or migrate at a quieter moment"
        )


def upgrade_to_head(
    database_url: str,
    *,
    patience: LockPatience = LockPatience(),
    on_wait: Callable[[LockWait], None] | None = None,
) -> None:
    """Applies every migration not yet applied, each in a transaction of its own, so that the locks one
    takes are let go before the next begins; ``UnknownRevision`` if the database is ahead of this version.

    Concurrent upgrades take their turns on an advisory lock, waited for without a limit. Past it, a
    table lock not had within ``patience.lock_timeout_s`` rolls back the migration that waited (those
    before it stay applied), as does a deadlock Postgres broke by ending it; ``on_wait`` is told, and the
    upgrade goes on from there after a backoff; ``MigrationBlocked`` once no try got its locks."""
    problem = encoding_problem(database_url)
    if problem is not None:
        raise MigrationRefused(problem)
    delay = patience.first_retry_s
    for attempt in range(1, patience.attempts + 1):
        try:
            _upgrade_once(database_url, patience.lock_timeout_s)
            return
        except DBAPIError as error:
            if not isinstance(error.orig, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected):
                raise
        if attempt == patience.attempts:
            break
        if on_wait is not None:
            on_wait(LockWait(attempt, patience.attempts, patience.lock_timeout_s, delay))
        time.sleep(delay)
        delay = min(delay * 2, patience.max_retry_s)
    raise MigrationBlocked(patience)


def _upgrade_once(database_url: str, lock_timeout_s: float) -> None:
    """One try, on one connection: the advisory lock and lock_timeout are the session's, and the
    connection is handed to Alembic outside any transaction, for it to begin one per migration. The
    session's end (the engine is disposed of) lets the advisory lock go, whatever happened."""
    config = alembic_config()
    with (
        single_use_engine(database_url, application_name="docfleet-migrate") as engine,
        engine.connect() as connection,
    ):
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
        # Set once the advisory lock is had: waiting for another upgrade to end is not cut short.
        timeout = f"{max(1, round(lock_timeout_s * 1000))}ms"
        connection.execute(text("SELECT set_config('lock_timeout', :timeout, false)"), {"timeout": timeout})
        _refuse_unknown(connection, _scripts())
        connection.commit()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _refuse_unknown(connection: Connection, scripts: ScriptDirectory) -> None:
    known = {script.revision for script in scripts.walk_revisions()}
    refuse_unknown(connection, _current_revisions(connection) - known)
