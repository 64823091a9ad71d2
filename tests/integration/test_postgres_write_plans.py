"""The commit statement, and the foreign keys' checks it fires, run generic plans with sequential scans off
(``GENERIC_PLANS_FOR_WRITES``). Such a plan is made once per connection and kept: it must find its rows
by an index's condition even when it was made while every table was empty, or it would go on scanning
the tables whole once they have grown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from adapters.postgres.batch import BatchKeys, SqlBatch
from adapters.postgres.commit_statement import GENERIC_PLANS_FOR_WRITES
from adapters.postgres.engine import create_engine, libpq_conninfo
from adapters.postgres.session import Params, PgSession
from adapters.postgres.unit_of_work import SqlUnitOfWork, unit_of_work_factory
from domain.commands import Command, RevokeAccess, ShareDocument
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, execute
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import org_with_folder, upload_command
from tests.support.plans import leading_columns, plan_of, unbounded_scans
from tests.support.services import migrated_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def empty_database_url() -> Iterator[str]:
    with migrated_database() as url:
        yield url


@pytest.fixture(scope="module")
def commit_statements(empty_database_url: str) -> list[str]:
    """Each commit statement sent while members and a folder are added, then one batch uploads, shares,
    uploads again and revokes; the tables are then emptied and analyzed, as on a new deployment."""
    engine = create_engine(empty_database_url, pool_size=2)
    captured: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PgSession, "send", _capturing_commit_statements(PgSession.send, captured))
        _run_every_write(engine, IdMaker())
    engine.dispose()
    with psycopg.connect(libpq_conninfo(empty_database_url), autocommit=True) as connection:
        tables = connection.execute(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchone()
        assert tables is not None
        connection.execute(f"TRUNCATE {tables[0]}")
        connection.execute("ANALYZE")
    return captured


def _capturing_commit_statements(send: Any, captured: list[str]) -> Any:
    """``PgSession.send``, keeping each statement sent right after ``GENERIC_PLANS_FOR_WRITES``."""
    after_settings = False

    def capturing(session: PgSession, sql: str, params: Params = ()) -> None:
        nonlocal after_settings
        if after_settings:
            captured.append(sql)
        after_settings = sql == GENERIC_PLANS_FOR_WRITES
        send(session, sql, params)

    return capturing


def _run_every_write(engine: Engine, new_id: IdMaker) -> None:
    org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
    doc_id = new_id("doc")
    messages: list[tuple[str, Command]] = [
        (new_id("msg"), upload_command(org_id, folder_id, doc_id)),
        (new_id("msg"), ShareDocument(doc_id=doc_id, shared_by="alice", shared_with="bob", role=Role.EDITOR)),
        (new_id("msg"), upload_command(org_id, folder_id, new_id("doc"))),
    ]
    later: list[tuple[str, Command]] = [
        (new_id("msg"), upload_command(org_id, folder_id, doc_id, name="q1-final.pdf")),
        (new_id("msg"), RevokeAccess(doc_id=doc_id, revoked_by="alice", user_id="bob")),
    ]
    for batch_messages in (messages, later):
        with SqlBatch(engine, BatchKeys.of(batch_messages)) as batch:
            for message_id, command in batch_messages:
                outcome = execute(command, message_id=message_id, actor="t", new_uow=batch.new_uow)
                assert outcome is Outcome.APPLIED
            batch.commit()


def test_every_kind_of_write_was_captured(commit_statements: list[str]) -> None:
    written = " ".join(commit_statements)
    for table in ("INSERT INTO documents", "INSERT INTO access_policies", "DELETE FROM access_policies"):
        assert table in written
    for table in ("UPDATE folders", "INSERT INTO outbox", "INSERT INTO inbox"):
        assert table in written


def test_the_commit_statements_generic_plans_scan_no_table_whole(
    empty_database_url: str, commit_statements: list[str]
) -> None:
    with _generic_planning(empty_database_url) as connection:
        whole_scans = {
            sql[:80]: scans
            for index, sql in enumerate(commit_statements)
            if (scans := _whole_scans(connection, f"w{index}", _numbered(sql)))
        }
    assert whole_scans == {}


def test_the_keys_checks_fired_look_rows_up_by_the_keys_they_reference(
    empty_database_url: str, commit_statements: list[str]
) -> None:
    """A key's check looks up the row a written row references, by that row's unique key: always an
    index's condition. The checks that could scan, of the rows referring to one deleted or whose key
    changed, never run in a commit statement: it deletes from no referenced table, and changes no key."""
    with psycopg.connect(libpq_conninfo(empty_database_url)) as connection:
        referenced: dict[str, list[str]] = dict(
            connection.execute(
                "SELECT c.confrelid::regclass::text, array_agg(a.attname::text) FROM pg_constraint c"
                " JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = ANY(c.confkey)"
                " WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace GROUP BY 1"
            ).fetchall()
        )
    written = " ".join(commit_statements)
    deleted_from = set(re.findall(r"DELETE FROM (\w+)", written))
    updated = {
        (table, assignment.split(" = ")[0].strip())
        for table, assignments in re.findall(r"UPDATE (\w+) SET (.+?) WHERE", written)
        for assignment in assignments.split(", ")
    }
    assert {"folders", "documents", "organizations"} <= set(referenced)
    assert deleted_from
    assert not deleted_from & set(referenced)
    assert updated
    assert not {(table, column) for table, column in updated if column in referenced.get(table, [])}


def test_only_the_commit_statement_runs_generic_plans(empty_database_url: str, new_id: IdMaker) -> None:
    """The settings last until the COMMIT: reads before it, and the connection after, plan as ever."""
    engine = create_engine(empty_database_url, pool_size=1)
    message_id = new_id("msg")
    settings = "current_setting('plan_cache_mode') || '/' || current_setting('enable_seqscan')"
    try:
        with SqlUnitOfWork(engine, None) as uow:
            uow.write_at_commit(
                "seen", f"INSERT INTO inbox (message_id) SELECT %s || ':' || {settings}", [message_id]
            )
            uow.commit()
        with engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            seen = driver.execute(
                "SELECT message_id FROM inbox WHERE message_id LIKE %s", [f"{message_id}:%"]
            )
            after = driver.execute(f"SELECT {settings}").fetchone()
            rows = seen.fetchall()
    finally:
        engine.dispose()
    assert rows == [(f"{message_id}:force_generic_plan/off",)]
    assert after == ("force_custom_plan/on",)


@contextmanager
def _generic_planning(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection whose prepared statements are planned generically, with sequential scans off."""
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as connection:
        connection.execute("SET plan_cache_mode = force_generic_plan")
        connection.execute("SET enable_seqscan = off")
        yield connection


def _numbered(sql: str) -> str:
    """psycopg's ``%s`` placeholders as Postgres's ``$1``, ``$2``..."""
    count = iter(range(1, sql.count("%s") + 1))
    return re.sub(r"%s", lambda _: f"${next(count)}", sql)


def _whole_scans(connection: psycopg.Connection[Any], name: str, sql: str) -> list[str]:
    """The scans in the generic plan of ``sql`` that read a table or an index whole."""
    connection.execute(f"PREPARE {name} AS {sql}")
    parameters = len(set(re.findall(r"\$(\d+)", sql)))
    arguments = f"({', '.join(['NULL'] * parameters)})" if parameters else ""
    return unbounded_scans(plan_of(connection, f"EXECUTE {name}{arguments}"), leading_columns(connection))
