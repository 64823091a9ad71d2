"""The audit_log table: migration 0002 up and down, and ``record_events`` writing each event id once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import DataError

from adapters.postgres.audit_log import AuditEvent, UnstorableEvent, record_events
from adapters.postgres.engine import create_single_use_engine
from adapters.postgres.tables import audit_log
from tests.integration.test_audit_support import row_counts
from tests.support.migrations import alembic
from tests.support.services import throwaway_database

pytestmark = pytest.mark.integration

OCCURRED = datetime(2024, 5, 1, 12, 28, 0, 123456, tzinfo=UTC)


def audit_event(event_id: str | None = None, **fields: object) -> AuditEvent:
    event_id = event_id or str(uuid.uuid4())
    payload = {"event_id": event_id, "type": "MemberAdded", "org_id": "acme", "user_id": "alice", **fields}
    return AuditEvent(event_id, "MemberAdded", "member.added", "acme", None, OCCURRED, payload)


def _schema(url: str) -> tuple[set[str], dict[str, object]]:
    """The tables, and audit_log's columns, primary key and indexes if it exists."""
    engine = create_single_use_engine(url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            tables = set(inspector.get_table_names())
            if "audit_log" not in tables:
                return tables, {}
            return tables, {
                "columns": [column["name"] for column in inspector.get_columns("audit_log")],
                "primary_key": inspector.get_pk_constraint("audit_log")["constrained_columns"],
                "indexes": {i["name"]: i["column_names"] for i in inspector.get_indexes("audit_log")},
            }
    finally:
        engine.dispose()


def test_migration_0002_adds_the_audit_log_and_removes_it_again(database_url: str) -> None:
    with throwaway_database(database_url) as url:
        alembic(url, "upgrade", "0001")
        tables_at_0001, _ = _schema(url)
        alembic(url, "upgrade", "0002")
        tables_at_0002, table = _schema(url)
        alembic(url, "downgrade", "0001")
        tables_after_downgrade, _ = _schema(url)
        alembic(url, "upgrade", "head")
        tables_at_head, _ = _schema(url)

    assert "audit_log" not in tables_at_0001
    assert tables_at_0002 == tables_at_0001 | {"audit_log"}
    assert table == {
        "columns": [
            "event_id",
            "type",
            "routing_key",
            "org_id",
            "document_id",
            "occurred_at",
            "payload",
            "received_at",
        ],
        "primary_key": ["event_id"],
        "indexes": {"ix_audit_log_org_occurred": ["org_id", "occurred_at"]},
    }
    assert tables_after_downgrade == tables_at_0001
    assert tables_at_head == tables_at_0002


def test_events_are_written_once_per_event_id_across_and_within_batches(engine: Engine) -> None:
    first, second, third = audit_event(), audit_event(), audit_event()

    assert record_events(engine, [first, second]) == 2
    assert record_events(engine, [second, third, third]) == 1
    assert record_events(engine, []) == 0

    ids = [first.event_id, second.event_id, third.event_id]
    assert row_counts(engine, ids) == dict.fromkeys(ids, 1)


def test_a_row_keeps_the_event_as_delivered_and_when_it_was_received(engine: Engine) -> None:
    event = audit_event(name="Robert'); DROP TABLE audit_log;--", nested={"emoji": "📄", "list": [1, 2.5]})
    record_events(engine, [event])

    with engine.connect() as connection:
        row = connection.execute(select(audit_log).where(audit_log.c.event_id == event.event_id)).one()
        now = connection.scalar(text("SELECT now()"))
    assert (row.type, row.routing_key, row.org_id, row.document_id) == (
        "MemberAdded",
        "member.added",
        "acme",
        None,
    )
    assert row.occurred_at == OCCURRED
    assert row.payload == dict(event.payload)
    assert row.received_at <= now


def test_a_failed_batch_writes_nothing(engine: Engine) -> None:
    good = audit_event()
    bad = AuditEvent(str(uuid.uuid4()), "T", "k", None, None, OCCURRED, {"x": float("nan")})
    with pytest.raises(DataError, match=r"(?i)json"):
        record_events(engine, [good, bad])
    assert row_counts(engine, [good.event_id]) == {good.event_id: 0}


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "Member\x00Added"},
        {"org_id": "a\x00b"},
        {"payload": {"k": "\ud800"}},
        {"payload": {"\x00": 1}},
    ],
)
def test_text_postgres_cannot_hold_is_refused_before_any_write(fields: dict[str, object]) -> None:
    values: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "type": "MemberAdded",
        "routing_key": "member.added",
        "org_id": "acme",
        "document_id": None,
        "occurred_at": OCCURRED,
        "payload": {},
        **fields,
    }
    with pytest.raises(UnstorableEvent):
        AuditEvent(**values)  # type: ignore[arg-type]
