"""The audit consumer against real RabbitMQ and Postgres: once per event id, whatever happens to the acks."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Sequence

import pika.exceptions
import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from adapters.postgres.audit_log import AuditEvent, record_events
from tests.integration.test_audit_support import (
    FAST,
    STOP_TIMEOUT_S,
    Recording,
    delete_queue,
    drain,
    event_body,
    own_queue,
    publish,
    publish_events,
    row_counts,
    running_audit,
)
from tests.support.rabbitmq import consumer_count, queue_depth
from tests.support.waiting import wait_for
from workers.audit_wire import dead_letter_queue
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(database_url: str, amqp_url: str) -> Iterator[Settings]:
    yield from own_queue(database_url, amqp_url)


def _all_recorded(engine: Engine, ids: Sequence[str]) -> bool:
    return all(count > 0 for count in row_counts(engine, ids).values())


def test_each_event_is_written_once_with_its_routing_key_however_often_it_arrives(
    engine: Engine, settings: Settings
) -> None:
    bodies = [event_body() for _ in range(5)]
    keys = ["member.added", "document.shared.viewer", "command.rejected.add_member", "folder.created", "x.y"]
    deliveries = [(key, json.dumps(body).encode()) for key, body in zip(keys, bodies, strict=True)]
    ids = [body["event_id"] for body in bodies]
    recording = Recording()
    with running_audit(settings, recording):
        publish(settings.amqp_url, deliveries)
        publish(settings.amqp_url, deliveries[::-1])  # every event a second time: the relay's at-least-once
        wait_for(lambda: len(recording.seen) >= 10, what="both deliveries of each event")
    assert sorted(recording.seen) == sorted(ids * 2)
    assert row_counts(engine, ids) == dict.fromkeys(ids, 1)
    assert queue_depth(settings.amqp_url, settings.audit_queue) == 0, "every delivery was acked"
    assert queue_depth(settings.amqp_url, dead_letter_queue(settings.audit_queue)) == 0


def test_a_consumer_rabbitmq_cancels_comes_back_and_declares_its_queue_again(
    engine: Engine, settings: Settings
) -> None:
    """Deleting the queue (as a node's loss would) cancels the consumer; pika says so only to a callback."""
    before, after = event_body(), event_body()
    with running_audit(settings, Recording()), capture_logs() as logs:
        publish_events(settings.amqp_url, [before])
        wait_for(lambda: _all_recorded(engine, [before["event_id"]]), what="the first event recorded")
        delete_queue(settings.amqp_url, settings.audit_queue)
        wait_for(lambda: consumer_count(settings.amqp_url, settings.audit_queue) > 0, what="consuming again")
        publish_events(settings.amqp_url, [after])
        wait_for(lambda: _all_recorded(engine, [after["event_id"]]), what="the later event recorded")

    reconnecting = [entry for entry in logs if entry["event"] == "audit consumer error, reconnecting"]
    assert len(reconnecting) == 1
    assert "cancelled the consumer" in reconnecting[0]["error"]


class HoldsTheFirstBatch:
    """Writes each batch and notes its size; the first is held until ``release`` is set, so that the
    deliveries arriving meanwhile pile up."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.release = threading.Event()

    def __call__(self, engine: Engine, events: Sequence[AuditEvent]) -> int:
        self.sizes.append(len(events))
        if len(self.sizes) == 1:
            self.release.wait(STOP_TIMEOUT_S)
        return record_events(engine, events)


def test_deliveries_that_piled_up_are_written_in_batches_of_the_batch_size(
    engine: Engine, settings: Settings
) -> None:
    first, *piled = [event_body() for _ in range(1 + 2 * FAST.batch_size)]
    holding = HoldsTheFirstBatch()
    with running_audit(settings, holding):
        publish_events(settings.amqp_url, [first])
        wait_for(lambda: holding.sizes == [1], what="the first batch")
        publish_events(settings.amqp_url, piled)  # a prefetch's worth reaches the consumer meanwhile
        left = 1 + len(piled) - FAST.prefetch  # not delivered: the prefetch holds the first one too
        wait_for(lambda: queue_depth(settings.amqp_url, settings.audit_queue) == left, what="the prefetch")
        holding.release.set()
        wait_for(lambda: sum(holding.sizes) == 1 + len(piled), what="every event")
    assert max(holding.sizes[1:]) == FAST.batch_size
    assert row_counts(engine, [body["event_id"] for body in piled]) == {b["event_id"]: 1 for b in piled}


class CrashAfterCommit:
    """Writes the batch, then fails once as a crash between the commit and the ack would."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, engine: Engine, events: Sequence[AuditEvent]) -> int:
        inserted = record_events(engine, events)
        self.batches.append([event.event_id for event in events])
        if len(self.batches) == 1:
            raise pika.exceptions.AMQPConnectionError("lost between the commit and the ack (test)")
        return inserted


def test_a_crash_between_commit_and_ack_brings_the_batch_again_and_it_is_not_written_twice(
    engine: Engine, settings: Settings
) -> None:
    bodies = [event_body() for _ in range(8)]
    ids = [body["event_id"] for body in bodies]
    crashing = CrashAfterCommit()
    with running_audit(settings, crashing):
        publish_events(settings.amqp_url, bodies)

        def redelivered() -> bool:
            later = {event_id for batch in crashing.batches[1:] for event_id in batch}
            return len(crashing.batches) > 1 and set(crashing.batches[0]) <= later

        wait_for(redelivered, what="the crashed batch to be delivered again")
        wait_for(lambda: _all_recorded(engine, ids), what="every event, after the crash")
    assert row_counts(engine, ids) == dict.fromkeys(ids, 1)
    assert queue_depth(settings.amqp_url, settings.audit_queue) == 0, "nothing left unacked"


def _raw(member: bytes) -> bytes:
    """An event as raw JSON text, with one more member written as given."""
    head = (
        b'{"event_id": "%s", "type": "T", "occurred_at": "2024-05-01T00:00:00Z", ' % uuid.uuid4().hex.encode()
    )
    return head + member + b"}"


MALFORMED = [
    b"not json",
    b"\xff\xfe not UTF-8",
    b"[1, 2]",
    json.dumps({**event_body(), "event_id": "not-a-uuid"}).encode(),
    json.dumps({key: value for key, value in event_body().items() if key != "event_id"}).encode(),
    json.dumps({**event_body(), "type": ""}).encode(),
    json.dumps({**event_body(), "occurred_at": "yesterday"}).encode(),
    json.dumps({**event_body(), "occurred_at": "2024-05-01T12:28:00"}).encode(),  # no offset
    json.dumps({**event_body(), "org_id": 42}).encode(),
    json.dumps({**event_body(), "extra": float("nan")}).encode(),  # NaN: not JSON
    _raw(b'"x": "\\u0000"'),  # NUL: Postgres text and JSONB refuse it
    _raw(b'"x": "\\ud800"'),  # a lone surrogate: not UTF-8
    _raw(b'"x": 1e999'),  # infinite
    b"[" * 100_000,
    _raw(b'"x": ' + b"[" * 975 + b"]" * 975),  # read, but too deep to store: crashed the consumer
    json.dumps({**event_body(), "org_id": "o" * 3000}).encode(),  # over the index's row size: retried forever
]


def test_malformed_events_are_dead_lettered_once_with_a_log_line_and_the_others_recorded(
    engine: Engine, settings: Settings
) -> None:
    before, after = event_body(), event_body()
    deliveries = [("member.added", json.dumps(before).encode())]
    deliveries += [("member.added", body) for body in MALFORMED]
    deliveries += [("member.added", json.dumps(after).encode())]
    xq = dead_letter_queue(settings.audit_queue)
    with capture_logs() as logs, running_audit(settings):
        publish(settings.amqp_url, deliveries)
        wait_for(lambda: queue_depth(settings.amqp_url, xq) == len(MALFORMED), what="the dead letters")
        wait_for(
            lambda: _all_recorded(engine, [before["event_id"], after["event_id"]]), what="the good events"
        )
    lines = [line for line in logs if line["event"] == "malformed event dead-lettered"]
    assert len(lines) == len(MALFORMED)
    assert all(line["queue"] == xq and line["problem"] for line in lines)
    assert sorted(drain(settings.amqp_url, xq)) == sorted(MALFORMED), "dead-lettered once each, unchanged"
    assert queue_depth(settings.amqp_url, settings.audit_queue) == 0, "no redelivery loop"


class RefusesOneByItsIndex:
    """Writes events as Postgres would, except one: refused as an index row too large (SQLSTATE 54000)."""

    def __init__(self, refused_id: str) -> None:
        self.refused_id = refused_id

    def __call__(self, engine: Engine, events: Sequence[AuditEvent]) -> int:
        if any(event.event_id == self.refused_id for event in events):
            cause = psycopg.errors.ProgramLimitExceeded("index row size 8024 exceeds btree maximum (test)")
            raise OperationalError("INSERT INTO audit_log ...", {}, cause)
        return record_events(engine, events)


def test_an_event_postgres_refuses_for_a_program_limit_is_dead_lettered_not_retried(
    engine: Engine, settings: Settings
) -> None:
    bodies = [event_body() for _ in range(3)]
    refused = bodies[1]["event_id"]
    xq = dead_letter_queue(settings.audit_queue)
    with running_audit(settings, RefusesOneByItsIndex(refused)):
        publish_events(settings.amqp_url, bodies)
        wait_for(lambda: queue_depth(settings.amqp_url, xq) == 1, what="the dead letter")
        others = [body["event_id"] for body in bodies if body["event_id"] != refused]
        wait_for(lambda: _all_recorded(engine, others), what="the other events")
    assert [json.loads(body)["event_id"] for body in drain(settings.amqp_url, xq)] == [refused]
    assert queue_depth(settings.amqp_url, settings.audit_queue) == 0
