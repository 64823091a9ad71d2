"""The audit consumer when its dead-letter queue is gone, when a routing key is not text, and when
Postgres holds its writes: every delivery still has an outcome, and a stall is logged, not silent."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pika
import pika.exceptions
import psycopg
import pytest
from sqlalchemy import Engine
from structlog.testing import capture_logs

from adapters.postgres.audit_log import AuditEvent
from adapters.postgres.engine import libpq_conninfo
from tests.integration.test_audit_support import (
    FAST,
    delete_queue,
    drain,
    event_body,
    own_queue,
    publish,
    row_counts,
    running_audit,
)
from tests.support.rabbitmq import consumer_count, queue_depth
from tests.support.waiting import wait_for
from workers.audit import run_audit
from workers.audit_wire import dead_letter_queue, parse_event
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(database_url: str, amqp_url: str) -> Iterator[Settings]:
    yield from own_queue(database_url, amqp_url)


def test_a_malformed_event_reaches_a_dead_letter_queue_deleted_since_the_consumer_started(
    settings: Settings,
) -> None:
    xq = dead_letter_queue(settings.audit_queue)
    with running_audit(settings):
        delete_queue(settings.amqp_url, xq)  # an operator clearing it after reading it
        publish(settings.amqp_url, [("member.added", b"not json")])
        wait_for(lambda: _depth_if_declared(settings.amqp_url, xq) == 1, what="the dead letter")
    assert drain(settings.amqp_url, xq) == [b"not json"]


def test_a_routing_key_that_is_not_utf_8_is_dead_lettered_not_stored(
    engine: Engine, settings: Settings
) -> None:
    body = event_body()
    xq = dead_letter_queue(settings.audit_queue)
    with capture_logs() as logs, running_audit(settings):
        publish(settings.amqp_url, [(b"document.\xff.shared", json.dumps(body).encode())])  # type: ignore[list-item]
        wait_for(lambda: queue_depth(settings.amqp_url, xq) == 1, what="the dead letter")
    assert row_counts(engine, [body["event_id"]]) == {body["event_id"]: 0}
    (line,) = [entry for entry in logs if entry["event"] == "malformed event dead-lettered"]
    assert line["problem"] == "routing key: not UTF-8"


def _depth_if_declared(amqp_url: str, queue: str) -> int:
    try:
        return queue_depth(amqp_url, queue)
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code == 404:
            return 0
        raise


@pytest.fixture
def locked_audit_log(database_url: str) -> Iterator[threading.Event]:
    """``audit_log`` locked by another transaction until the event is set (or the test ends)."""
    release, locked = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(libpq_conninfo(database_url)) as connection:
            connection.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    try:
        yield release
    finally:
        release.set()
        holder.join(30)


def test_writes_held_by_a_lock_are_cancelled_logged_and_retried_once_it_is_gone(
    engine: Engine, settings: Settings, locked_audit_log: threading.Event
) -> None:
    bodies = [event_body() for _ in range(3)]
    ids = [body["event_id"] for body in bodies]
    options = dataclasses.replace(FAST, statement_timeout_ms=300)
    stop = threading.Event()
    consumer = threading.Thread(target=run_audit, args=(settings, stop), kwargs={"options": options})
    with capture_logs() as logs:
        consumer.start()
        try:
            wait_for(lambda: consumer_count(settings.amqp_url, settings.audit_queue) > 0, what="the consumer")
            publish(settings.amqp_url, [("member.added", json.dumps(body).encode()) for body in bodies])
            wait_for(lambda: _stalls(logs) >= 2, what="the held writes cancelled and logged")
            locked_audit_log.set()
            wait_for(lambda: row_counts(engine, ids) == dict.fromkeys(ids, 1), what="the events recorded")
        finally:
            stop.set()
            consumer.join(30)
    assert not consumer.is_alive()
    assert queue_depth(settings.amqp_url, settings.audit_queue) == 0


def _stalls(logs: Sequence[Mapping[str, Any]]) -> int:
    reconnections = [entry for entry in logs if entry["event"] == "audit consumer error, reconnecting"]
    return sum("statement timeout" in str(entry["error"]) for entry in reconnections)


def test_an_event_whose_reading_fails_unforeseen_is_dead_lettered_not_a_crash_loop(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers import audit

    poison, good = event_body(), event_body()
    read = parse_event

    def failing_on_the_poison(body: bytes, routing_key: str | bytes) -> AuditEvent:
        if poison["event_id"].encode() in body:
            raise OverflowError("date value out of range")
        return read(body, routing_key)

    monkeypatch.setattr(audit, "parse_event", failing_on_the_poison)
    xq = dead_letter_queue(settings.audit_queue)
    with capture_logs() as logs, running_audit(settings):
        publish(settings.amqp_url, [("member.added", json.dumps(body).encode()) for body in (poison, good)])
        wait_for(lambda: row_counts(engine, [good["event_id"]])[good["event_id"]] == 1, what="the good one")
        wait_for(lambda: queue_depth(settings.amqp_url, xq) == 1, what="the poison dead-lettered")
    (line,) = [entry for entry in logs if entry["event"] == "malformed event dead-lettered"]
    assert line["problem"] == "could not be read: OverflowError: date value out of range"
