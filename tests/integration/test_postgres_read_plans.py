"""A batch's reads find the memberships they need by an index's condition, however many there are: they
used to scan every membership for every batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from adapters.postgres.batch import BatchKeys, SqlBatch
from adapters.postgres.engine import create_engine, libpq_conninfo
from adapters.postgres.session import Params, PgSession
from adapters.postgres.unit_of_work import unit_of_work_factory
from domain.commands import Command, ShareDocument
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, execute
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import org_with_folder, upload_command
from tests.support.plans import leading_columns, nodes, plan_of, unbounded_scans
from tests.support.services import migrated_database

pytestmark = pytest.mark.integration

_OTHER_MEMBERSHIPS = 50_000


@contextmanager
def _database_holding(*statements: tuple[str, list[Any]]) -> Iterator[str]:
    """A migrated database of the module's own, once ``statements`` ran in it, analyzed."""
    with migrated_database() as url:
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as connection:
            for sql, params in statements:
                connection.execute(sql, params)
            connection.execute("ANALYZE")
        yield url


@pytest.fixture(scope="module")
def crowded_database_url() -> Iterator[str]:
    """A database where other organizations hold many memberships."""
    with _database_holding(
        ("INSERT INTO organizations (id) SELECT 'crowd-' || g FROM generate_series(1, 500) g", []),
        (
            "INSERT INTO memberships (org_id, user_id)"
            " SELECT 'crowd-' || (g %% 500 + 1), 'member-' || g FROM generate_series(1, %s) g",
            [_OTHER_MEMBERSHIPS],
        ),
    ) as url:
        yield url


def test_a_batchs_reads_find_memberships_by_an_index_condition(crowded_database_url: str) -> None:
    engine = create_engine(crowded_database_url, pool_size=2)
    new_id = IdMaker()
    try:
        org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
        doc_id = new_id("doc")
        messages: list[tuple[str, Command]] = [
            (new_id("msg"), upload_command(org_id, folder_id, doc_id)),
            (
                new_id("msg"),
                ShareDocument(doc_id=doc_id, shared_by="alice", shared_with="bob", role=Role.VIEWER),
            ),
        ]
        reads: list[tuple[str, Params]] = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(PgSession, "later", _capturing(PgSession.later, reads))
            with SqlBatch(engine, BatchKeys.of(messages)) as batch:
                for message_id, command in messages:
                    outcome = execute(command, message_id=message_id, actor="t", new_uow=batch.new_uow)
                    assert outcome is Outcome.APPLIED
                batch.commit()
    finally:
        engine.dispose()
    with psycopg.connect(libpq_conninfo(crowded_database_url)) as connection:
        indexes = leading_columns(connection)
        plans = [plan_of(connection, sql, params) for sql, params in reads]
    assert any(node.get("Relation Name") == "memberships" for plan in plans for node in nodes(plan))
    assert [scan for plan in plans for scan in unbounded_scans(plan, indexes, {"memberships"})] == []


def _capturing(later: Any, reads: list[tuple[str, Params]]) -> Any:
    def capturing(session: PgSession, sql: str, params: Params = ()) -> Any:
        reads.append((sql, params))
        return later(session, sql, params)

    return capturing


_OTHER_EVENTS = 20_000


@pytest.fixture(scope="module")
def crowded_outbox_url() -> Iterator[str]:
    """A database whose outbox holds many published events, one in a hundred a CommandRejected."""
    with _database_holding(
        (
            "INSERT INTO outbox (event_id, type, routing_key, payload, published_at)"
            " SELECT gen_random_uuid(),"
            " CASE WHEN g %% 100 = 0 THEN 'CommandRejected' ELSE 'DocumentUploaded' END, 'x',"
            " jsonb_build_object('message_id', 'crowd-' || g, 'actor', 'upload_document',"
            " 'reason', 'invalid', 'detail', 'doc_id: too long'), now()"
            " FROM generate_series(1, %s) g",
            [_OTHER_EVENTS],
        ),
    ) as url:
        yield url


def test_the_rejections_of_dead_letters_are_found_by_an_index_condition(crowded_outbox_url: str) -> None:
    """The lookup as the dlq commands send it, on an engine built as theirs is (``history_for``)."""
    from sqlalchemy import event

    from adapters.postgres.engine import create_engine
    from adapters.postgres.rejections import MessageHistory

    ids = ["crowd-100", "crowd-4200", "crowd-4201", "never-sent"]
    sent: list[tuple[str, Any]] = []
    engine = create_engine(crowded_outbox_url, pool_size=1)
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append((args[2], args[3])))
    try:
        found = MessageHistory(engine).rejections(ids)
    finally:
        engine.dispose()
    with psycopg.connect(libpq_conninfo(crowded_outbox_url)) as connection:
        plans = [plan_of(connection, statement, parameters) for statement, parameters in sent]
        scans = [
            scan for plan in plans for scan in unbounded_scans(plan, leading_columns(connection), {"outbox"})
        ]
    assert set(found) == {"crowd-100", "crowd-4200"}  # 4201 was applied: its event is no rejection
    assert found["crowd-100"].reason == "invalid"
    assert any(node.get("Relation Name") == "outbox" for plan in plans for node in nodes(plan))
    assert scans == []
