"""What the relay reads and holds: outbox records, the leadership lock, and the commit notifications."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import Engine, text, update

from adapters.event_codec import routing_key, to_wire
from adapters.postgres.engine import create_engine, libpq_conninfo
from adapters.postgres.outbox import (
    FETCH_UNPUBLISHED,
    OutboxListener,
    OutboxRecord,
    OutboxStore,
    RelayLeadership,
)
from adapters.postgres.relay_connections import NotLeading
from adapters.postgres.tables import outbox
from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.events import DocumentShared, Event, MemberAdded
from tests.conftest import IdMaker
from tests.support.services import migrated_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A database of this module's own: its tests read the whole outbox, and mark what they find."""
    with migrated_database() as url:
        yield url


@pytest.fixture
def store(engine: Engine) -> OutboxStore:
    """The store, with every row this module's earlier tests left unpublished marked published first."""
    store = OutboxStore(engine)
    while pending := store.fetch_unpublished(1000):
        store.mark_published([record.seq for record in pending])
    return store


@pytest.fixture
def lock_key() -> int:
    """A lock of this test's own, so a relay running against the same database is not disturbed."""
    return secrets.randbits(62)


def _commit(engine: Engine, *events: Event) -> None:
    with SqlUnitOfWork(engine, None) as uow:
        for event in events:
            uow.record(event)
        uow.commit()


def _shared(new_id: IdMaker) -> DocumentShared:
    return DocumentShared(
        org_id=new_id("org"),
        doc_id=new_id("doc"),
        shared_by="alice",
        shared_with="bob",
        role="editor",
        previous_role="viewer",
    )


def test_unpublished_records_come_in_seq_order(engine: Engine, store: OutboxStore, new_id: IdMaker) -> None:
    shared, added = _shared(new_id), MemberAdded(org_id=new_id("org"), user_id="bob")
    _commit(engine, shared, added)
    records = store.fetch_unpublished(10)
    assert [record.event_id for record in records] == [shared.event_id, added.event_id]
    assert records[0].seq < records[1].seq
    first = records[0]
    assert first == OutboxRecord(
        seq=first.seq,
        event_id=shared.event_id,
        type="DocumentShared",
        routing_key=routing_key(shared),
        document_id=shared.doc_id,
        payload=to_wire(shared),
        created_at=first.created_at,
    )
    assert first.created_at.utcoffset() is not None
    assert records[1].document_id is None
    assert store.fetch_unpublished(1) == records[:1]


def test_the_leaders_store_reads_the_records_as_the_pooled_one_does(
    engine: Engine, store: OutboxStore, new_id: IdMaker, lock_key: int
) -> None:
    shared = DocumentShared(
        org_id=new_id("org"),
        doc_id=new_id("doc"),
        shared_by="zoë",
        shared_with='b "q" \\ \u2028',
        role="viewer",
        previous_role=None,
    )
    _commit(engine, shared)
    with RelayLeadership(engine, lock_key=lock_key) as leadership:
        assert leadership.acquire()
        led = OutboxStore(engine, leadership).fetch_unpublished(10_000)
    assert led == store.fetch_unpublished(10_000)
    assert [record.payload for record in led if record.event_id == shared.event_id] == [to_wire(shared)]


def test_published_records_are_not_fetched_again(engine: Engine, store: OutboxStore, new_id: IdMaker) -> None:
    events = [_shared(new_id) for _ in range(3)]
    _commit(engine, *events)
    assert store.pending_count() == 3
    first, second, third = store.fetch_unpublished(10)
    store.mark_published([first.seq, third.seq])
    store.mark_published([])
    assert store.fetch_unpublished(10) == [second]
    assert store.pending_count() == 1


def test_the_age_of_the_oldest_pending_record(engine: Engine, store: OutboxStore, new_id: IdMaker) -> None:
    assert store.oldest_pending_age_seconds() is None
    assert store.pending_count() == 0
    older, newer = _shared(new_id), _shared(new_id)
    _commit(engine, older)
    _commit(engine, newer)
    with engine.begin() as connection:
        connection.execute(
            update(outbox)
            .where(outbox.c.event_id == older.event_id)
            .values(created_at=text("now() - interval '90 seconds'"))
        )
    age = store.oldest_pending_age_seconds()
    assert age is not None
    assert 89 <= age < 120


def test_one_relay_leads_at_a_time(engine: Engine, lock_key: int) -> None:
    with (
        RelayLeadership(engine, lock_key=lock_key) as first,
        RelayLeadership(engine, lock_key=lock_key) as second,
    ):
        assert first.acquire()
        assert first.acquire()  # asking again while leading changes nothing
        assert not second.acquire()
        assert first.still_leader()
        assert not second.still_leader()
        first.release()
        assert not first.still_leader()
        assert second.acquire()
        assert not first.acquire()
        assert second.still_leader()


def test_only_the_leaders_marks_skip_waiting_for_the_disk(engine: Engine, lock_key: int) -> None:
    """Losing a mark republishes its events, which consumers deduplicate; a unit of work must wait."""
    with RelayLeadership(engine, lock_key=lock_key) as leadership:
        assert leadership.acquire()
        assert leadership.connection().execute("SHOW synchronous_commit").fetchone() == ("off",)
    with engine.connect() as pooled:
        assert pooled.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


_PUBLISH_20000_ROWS = (
    "INSERT INTO outbox (event_id, type, routing_key, payload, published_at)"
    " SELECT gen_random_uuid(), 'MemberAdded', 'member.added', '{}', now() FROM generate_series(1, 20000)"
)
_PLANS_OF_FETCH_AND_MARK = (
    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
    " WHERE statement LIKE 'UPDATE outbox%' OR statement LIKE 'SELECT % FROM outbox%'"
)


def test_the_leaders_fetch_and_mark_are_planned_at_every_execution(fresh_database_url: str) -> None:
    """A generic plan made on an empty, analyzed outbox scans the whole table once it has grown."""
    _analyze_the_outbox(fresh_database_url)
    with _leading(fresh_database_url) as (engine, leadership):
        store = OutboxStore(engine, leadership)
        for seq in range(1, 9):  # the server may switch to a generic plan after five executions
            store.fetch_unpublished(10)
            store.mark_published([seq])
        plans = leadership.connection().execute(_PLANS_OF_FETCH_AND_MARK).fetchall()
    assert plans == [(0, 8), (0, 8)]


def test_the_leaders_fetch_reads_the_unpublished_index_in_order(fresh_database_url: str) -> None:
    """Until a vacuum, the index keeps an entry for every row published since: a bitmap scan would read
    them all at every fetch, an index scan in order stops at its limit."""
    _analyze_the_outbox(fresh_database_url, then=_PUBLISH_20000_ROWS)
    with _leading(fresh_database_url) as (_, leadership):
        explain = f"EXPLAIN (FORMAT JSON) {FETCH_UNPUBLISHED}"
        [(plans,)] = leadership.connection().execute(explain, (500,)).fetchall()
    scan = plans[0]["Plan"]["Plans"][0]
    assert (scan["Node Type"], scan["Index Name"]) == ("Index Scan", "ix_outbox_unpublished")


def _analyze_the_outbox(database_url: str, then: str | None = None) -> None:
    """Vacuums and analyzes the outbox as it is, then runs ``then``: statistics older than the rows."""
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) outbox")
        if then is not None:
            connection.execute(then)


@contextmanager
def _leading(database_url: str) -> Iterator[tuple[Engine, RelayLeadership]]:
    """An engine of its own on ``database_url`` and a relay leadership acquired on it."""
    engine = create_engine(database_url, pool_size=1)
    try:
        with RelayLeadership(engine, lock_key=secrets.randbits(62)) as leadership:
            assert leadership.acquire()
            yield engine, leadership
    finally:
        engine.dispose()


def test_leaving_the_block_frees_the_lock(engine: Engine, lock_key: int) -> None:
    with RelayLeadership(engine, lock_key=lock_key) as first:
        assert first.acquire()
    with RelayLeadership(engine, lock_key=lock_key) as second:
        assert second.acquire()


def test_a_lost_connection_loses_the_leadership(engine: Engine, lock_key: int) -> None:
    with (
        RelayLeadership(engine, lock_key=lock_key) as first,
        RelayLeadership(engine, lock_key=lock_key) as second,
    ):
        assert first.acquire()
        _terminate_holder_of(engine, lock_key)
        assert not first.still_leader()
        assert second.acquire()
        assert not first.acquire()


def test_the_leaders_store_reads_nothing_once_its_leadership_is_lost(
    engine: Engine, lock_key: int, store: OutboxStore
) -> None:
    with RelayLeadership(engine, lock_key=lock_key) as leadership:
        assert leadership.acquire()
        leaders_store = OutboxStore(engine, leadership)
        assert leaders_store.fetch_unpublished(10) == store.fetch_unpublished(10)
        _terminate_holder_of(engine, lock_key)
        with pytest.raises(psycopg.OperationalError):
            leaders_store.fetch_unpublished(10)


def test_a_store_of_a_relay_standing_by_refuses_to_read(engine: Engine, lock_key: int) -> None:
    with (
        RelayLeadership(engine, lock_key=lock_key) as first,
        RelayLeadership(engine, lock_key=lock_key) as second,
    ):
        assert first.acquire()
        assert not second.acquire()
        with pytest.raises(NotLeading):
            OutboxStore(engine, second).fetch_unpublished(10)


def _terminate_holder_of(engine: Engine, lock_key: int) -> None:
    query = text(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :key"
    )
    with engine.connect() as connection:
        assert connection.execute(query, {"key": lock_key}).scalars().all() == [True]


def test_the_listener_wakes_on_a_commit_that_recorded_events(engine: Engine, new_id: IdMaker) -> None:
    listener = OutboxListener(engine)
    try:
        assert not listener.wait(0.2)
        with SqlUnitOfWork(engine, None) as uow:
            assert uow.members.contains(new_id("org"), "alice") is False
            uow.commit()
        assert not listener.wait(0.3)
        _commit(engine, _shared(new_id))
        assert listener.wait(5)
    finally:
        listener.close()


def test_the_listener_wakes_once_for_notifications_that_piled_up(engine: Engine, new_id: IdMaker) -> None:
    listener = OutboxListener(engine)
    try:
        for _ in range(3):
            _commit(engine, _shared(new_id))
        time.sleep(0.2)  # the relay was busy publishing meanwhile
        assert listener.wait(5)
        assert not listener.wait(0.3)
    finally:
        listener.close()
