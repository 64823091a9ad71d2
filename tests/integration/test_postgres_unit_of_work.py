"""The unit of work: state, outbox rows and the inbox row commit together; the cache hears only of commits."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event, select, text

from adapters.event_codec import routing_key, to_wire
from adapters.postgres.tables import outbox
from adapters.postgres.unit_of_work import SqlUnitOfWork, unit_of_work_factory
from domain.errors import AlreadyApplied
from domain.events import DocumentShared, Event, MemberAdded
from domain.model import Document
from domain.roles import Role
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import (
    first_version,
    inbox_has,
    listing_version,
    record_statements,
    seed_folder,
    uploaded,
)

pytestmark = pytest.mark.integration


def _outbox_rows(engine: Engine, *events: Event) -> list[dict[str, object]]:
    ids = [event.event_id for event in events]
    query = select(outbox).where(outbox.c.event_id.in_(ids)).order_by(outbox.c.seq)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def test_a_commit_raises_the_listing_version_of_each_changed_folder_once(
    engine: Engine, new_id: IdMaker
) -> None:
    folder, untouched = seed_folder(engine, new_id), seed_folder(engine, new_id)
    with SqlUnitOfWork(engine, None) as uow:
        first, second = first_version(new_id, folder), first_version(new_id, folder)
        uow.documents.save(first)
        uow.documents.save(second)
        uow.policies.put(first, "alice", Role.OWNER)
        uow.commit()
    assert listing_version(engine, folder.id) == 1
    with SqlUnitOfWork(engine, None) as uow:
        uow.policies.put(second, "bob", Role.VIEWER)
        uow.commit()
    assert listing_version(engine, folder.id) == 2
    with SqlUnitOfWork(engine, None) as uow:
        uow.policies.remove(first, "alice")
        uow.policies.remove(first, "nobody")
        uow.commit()
    assert listing_version(engine, folder.id) == 3
    with SqlUnitOfWork(engine, None) as uow:
        uow.policies.remove(first, "nobody")
        uow.commit()
    assert listing_version(engine, folder.id) == 3
    assert listing_version(engine, untouched.id) == 0


def _save_then_fail(engine: Engine, document: Document, event: Event) -> None:
    with SqlUnitOfWork(engine, None) as uow:
        uow.documents.save(document)
        uow.record(event)
        raise RuntimeError("boom")


def test_a_rollback_leaves_no_trace(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id)
    document, message_id = first_version(new_id, folder), new_id("msg")
    event = uploaded(document)
    with SqlUnitOfWork(engine, message_id) as uow:
        uow.documents.save(document)
        uow.record(event)
    with pytest.raises(RuntimeError, match="boom"):
        _save_then_fail(engine, document, event)
    with SqlUnitOfWork(engine, None) as uow:
        assert uow.documents.get(document.id) is None
    assert listing_version(engine, folder.id) == 0
    assert _outbox_rows(engine, event) == []
    assert not inbox_has(engine, message_id)


def test_a_unit_of_work_left_without_commit_gives_its_connection_back_rolled_back(
    engine: Engine, new_id: IdMaker
) -> None:
    """Not discarded: changing autocommit inside the open transaction used to fail, which closed it."""
    folder = seed_folder(engine, new_id)
    with SqlUnitOfWork(engine, None) as uow:  # the pool holds a connection from here on
        uow.folders.get(folder.id)
    connects: list[object] = []

    def count(*_: object) -> None:
        connects.append(None)

    event.listen(engine, "connect", count)
    try:
        for _ in range(3):
            with SqlUnitOfWork(engine, None) as uow:
                uow.documents.save(first_version(new_id, folder))
    finally:
        event.remove(engine, "connect", count)
    assert connects == []
    assert listing_version(engine, folder.id) == 0


def test_an_explicit_rollback_ends_the_unit_of_work(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id)
    document = first_version(new_id, folder)
    with SqlUnitOfWork(engine, None) as uow:
        uow.documents.save(document)
        uow.rollback()
        with pytest.raises(RuntimeError, match="not open"):
            uow.commit()
    assert listing_version(engine, folder.id) == 0
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_events_become_outbox_rows_in_order_with_their_wire_payload(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id)
    document = first_version(new_id, folder)
    upload_event = uploaded(document)
    shared = DocumentShared(
        org_id=folder.org_id,
        doc_id=document.id,
        shared_by="alice",
        shared_with="bob",
        role="viewer",
        previous_role=None,
    )
    events: list[Event] = [upload_event, shared, MemberAdded(org_id=folder.org_id, user_id="bob")]
    with SqlUnitOfWork(engine, None) as uow:
        uow.documents.save(document)
        for event in events:
            uow.record(event)
        uow.commit()
    rows = _outbox_rows(engine, *events)
    assert [row["event_id"] for row in rows] == [event.event_id for event in events]
    for row, event in zip(rows, events, strict=True):
        assert row["payload"] == to_wire(event)
        assert (row["type"], row["routing_key"]) == (event.type, routing_key(event))
        assert (row["org_id"], row["document_id"]) == (event.org_id, event.document_id)
        assert row["published_at"] is None


def test_each_event_names_the_message_whose_transaction_recorded_it(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id)
    message_id = new_id("message")
    events = [MemberAdded(org_id=folder.org_id, user_id=new_id("user")) for _ in range(2)]
    with SqlUnitOfWork(engine, message_id) as uow:
        for event in events:
            uow.record(event)
        uow.commit()
    payloads = [row["payload"] for row in _outbox_rows(engine, *events)]
    assert [payload["message_id"] for payload in payloads if isinstance(payload, dict)] == [message_id] * 2


def test_a_failed_commit_writes_nothing_and_tells_the_cache_nothing(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id)
    document = first_version(new_id, folder)
    calls: list[tuple[set[str], set[str]]] = []
    unknown = Event(org_id=folder.org_id)  # no routing key: the outbox row cannot be written
    with SqlUnitOfWork(engine, None, lambda f, d: calls.append((f, d))) as uow:
        uow.documents.save(document)
        uow.record(unknown)
        with pytest.raises(KeyError, match=r"domain\.events\.Event'"):  # no routing key for its type
            uow.commit()
    assert calls == []
    assert listing_version(engine, folder.id) == 0
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_on_committed_hears_the_changed_ids_after_the_commit(engine: Engine, new_id: IdMaker) -> None:
    folder = seed_folder(engine, new_id)
    document = first_version(new_id, folder)
    heard: list[tuple[set[str], set[str], int]] = []

    def on_committed(folder_ids: set[str], document_ids: set[str]) -> None:
        heard.append((folder_ids, document_ids, listing_version(engine, folder.id)))

    new_uow = unit_of_work_factory(engine, on_committed)
    with new_uow(None) as uow:
        uow.documents.save(document)
        uow.policies.put(document, "alice", Role.OWNER)
        assert heard == []
        uow.commit()
    with new_uow(None) as uow:
        assert uow.members.contains(folder.org_id, "alice")
        uow.commit()
    with new_uow(None) as uow:
        uow.policies.put(document, "bob", Role.VIEWER)
    assert heard == [({folder.id}, {document.id}, 1)]


def test_a_message_applied_before_is_refused_at_its_first_read(engine: Engine, new_id: IdMaker) -> None:
    message_id = new_id("msg")
    with SqlUnitOfWork(engine, message_id) as uow:
        uow.commit()
    with SqlUnitOfWork(engine, message_id) as duplicate, pytest.raises(AlreadyApplied) as refused:
        duplicate.members.contains("org", "alice")
    assert refused.value.message_id == message_id
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with SqlUnitOfWork(engine, new_id("msg")) as uow:
        uow.commit()


def test_a_commit_is_one_round_trip_with_one_statement_for_versions_events_and_wake_up(
    engine: Engine, new_id: IdMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = seed_folder(engine, new_id)
    document = first_version(new_id, folder)
    with SqlUnitOfWork(engine, None) as uow:
        uow.documents.save(document)
        for n in range(5):
            uow.record(MemberAdded(org_id=folder.org_id, user_id=f"user-{n}"))
        statements = record_statements(monkeypatch)
        uow.commit()
    # after the settings of its plans, in the same round trip (test_postgres_write_plans.py)
    assert statements == [("send", "SELECT set_config"), ("send", "WITH raised AS"), ("commit", "")]
    assert listing_version(engine, folder.id) == 1
    query = select(outbox.c.payload["user_id"].astext).where(outbox.c.org_id == folder.org_id)
    with engine.connect() as connection:
        recorded = list(connection.scalars(query.order_by(outbox.c.seq)))
    assert recorded == [f"user-{n}" for n in range(5)]  # numbered in the order they were recorded


def test_a_read_only_unit_of_work_reads_without_a_transaction_and_cannot_commit(
    engine: Engine, new_id: IdMaker
) -> None:
    folder = seed_folder(engine, new_id)
    engine.dispose()  # one pooled connection below, so the write after the reader reuses it
    with SqlUnitOfWork(engine, None, read_only=True) as reader:
        assert reader.folders.get(folder.id) == folder
        assert reader.members.contains(folder.org_id, "alice")
        with pytest.raises(RuntimeError, match="read-only"):
            reader.commit()
    with SqlUnitOfWork(engine, None) as writer:  # the reader's connection is transactional again
        writer.members.add(folder.org_id, "bob")
        writer.rollback()
    with SqlUnitOfWork(engine, None, read_only=True) as reader:
        assert not reader.members.contains(folder.org_id, "bob")


def test_a_read_only_unit_of_work_claims_no_message(engine: Engine) -> None:
    with pytest.raises(ValueError, match="claims no message"):
        SqlUnitOfWork(engine, "msg-1", read_only=True)


def test_pooled_sessions_plan_each_statement_with_its_parameters(engine: Engine) -> None:
    """A plan cached while a table was nearly empty would go on scanning it whole once it has grown."""
    with engine.connect() as connection:
        assert connection.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
