"""An upgrade that cannot have a table's lock gives up its wait after a while, rather than holding up
every command's commit behind it, and tries again; then says so, the migration that waited and those
after it unapplied. Each migration commits on its own, letting its tables go before the next begins."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from adapters.postgres import migrations
from adapters.postgres.engine import libpq_conninfo
from adapters.postgres.migrations import (
    LockPatience,
    LockWait,
    MigrationBlocked,
    is_at_head,
    upgrade_to_head,
)
from tests.support.migrations import alembic
from tests.support.services import throwaway_database

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]  # without lock_timeout: a hang

QUICK = LockPatience(lock_timeout_s=0.2, attempts=3, first_retry_s=0.01, max_retry_s=0.02)


@pytest.fixture
def before_0006(database_url: str) -> Iterator[str]:
    """A database at 0005: the next migration, 0006, builds an index on the outbox."""
    with throwaway_database(database_url) as url:
        alembic(url, "upgrade", "0005")
        yield url


def _open_writer_on_the_outbox(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A transaction that holds the lock a write to the outbox takes, and stays open."""
    writer = psycopg.connect(libpq_conninfo(url))
    writer.execute("LOCK TABLE outbox IN ROW EXCLUSIVE MODE")
    return writer


def _revision(url: str) -> str:
    with psycopg.connect(libpq_conninfo(url)) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row is not None
    return str(row[0])


def test_an_upgrade_behind_a_long_transaction_gives_up_after_its_tries_and_changes_nothing(
    before_0006: str,
) -> None:
    waits: list[LockWait] = []
    with _open_writer_on_the_outbox(before_0006):
        with pytest.raises(MigrationBlocked, match=r"3 tries each waited 0\.2 s") as blocked:
            upgrade_to_head(before_0006, patience=QUICK, on_wait=waits.append)
        # Each try rolled back: the writer was never waited on for good, and nothing stayed behind.
        assert _revision(before_0006) == "0005"

    assert "a long transaction holds a table" in str(blocked.value)
    assert [(wait.attempt, wait.attempts) for wait in waits] == [(1, 3), (2, 3)]
    assert [wait.retry_in_s for wait in waits] == [0.01, 0.02]


def test_an_upgrade_tries_again_once_the_transaction_in_its_way_has_ended(before_0006: str) -> None:
    writer = _open_writer_on_the_outbox(before_0006)
    waits: list[LockWait] = []

    def end_the_writer(wait: LockWait) -> None:
        waits.append(wait)
        writer.rollback()

    try:
        upgrade_to_head(before_0006, patience=QUICK, on_wait=end_the_writer)
    finally:
        writer.close()

    assert len(waits) == 1
    assert is_at_head(before_0006)


def test_a_migration_that_waits_leaves_those_before_it_applied(before_0006: str) -> None:
    """0006 to 0008 change the outbox and folders, 0009 the documents: a writer on the documents stops
    0009, not the three before it, each committed with its locks let go before the next began."""
    writer = psycopg.connect(libpq_conninfo(before_0006))
    writer.execute("LOCK TABLE documents IN ROW EXCLUSIVE MODE")
    try:
        with pytest.raises(MigrationBlocked):
            upgrade_to_head(before_0006, patience=LockPatience(lock_timeout_s=0.2, attempts=1))
        assert _revision(before_0006) == "0008"
    finally:
        writer.close()

    upgrade_to_head(before_0006, patience=QUICK)
    assert is_at_head(before_0006)


def test_a_migration_ended_by_postgres_to_break_a_deadlock_is_tried_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command holding a row while it reads a table a migration locks: Postgres ends one of the two."""
    tries: list[str] = []

    def deadlocked_once(url: str, _lock_timeout_s: float) -> None:
        tries.append(url)
        if len(tries) == 1:
            raise DBAPIError("CREATE INDEX", {}, psycopg.errors.DeadlockDetected("deadlock detected"))

    monkeypatch.setattr(migrations, "_upgrade_once", deadlocked_once)
    waits: list[LockWait] = []
    upgrade_to_head(database_url, patience=QUICK, on_wait=waits.append)

    assert len(tries) == 2
    assert [wait.attempt for wait in waits] == [1]
