"""Helpers for the audit consumer tests (no tests here): the consumer in a thread, events published raw."""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pika
import pika.exceptions
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.postgres.audit_log import AuditEvent, record_events
from adapters.postgres.tables import audit_log
from adapters.rabbitmq.connection import EVENTS_EXCHANGE_TYPE
from tests.support.rabbitmq import consumer_count
from tests.support.waiting import wait_for
from workers.audit import AuditOptions, Record, run_audit
from workers.audit_wire import dead_letter_queue
from workers.settings import Settings

STOP_TIMEOUT_S = 30.0
FAST = AuditOptions(batch_size=50, prefetch=100, batch_wait=0.05, backoff_initial=0.1, backoff_max=0.5)


def audit_settings(database_url: str, amqp_url: str, *, metrics_port: int | None = None) -> Settings:
    """The test's database and vhost, a queue of the test's own; metrics only on a port given."""
    return dataclasses.replace(
        Settings.from_env(),
        database_url=database_url,
        amqp_url=amqp_url,
        audit_queue=f"test.audit.{uuid.uuid4().hex[:10]}",
        metrics_enabled=metrics_port is not None,
        audit_metrics_port=metrics_port or 0,
    )


def event_body(event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": "MemberAdded",
        "schema_version": 1,
        "occurred_at": "2024-05-01T12:28:00.123456Z",
        "org_id": "acme",
        "user_id": "alice",
        **fields,
    }


@contextmanager
def running_audit(
    settings: Settings, record: Record = record_events, *, wait_ready: bool = True
) -> Iterator[threading.Thread]:
    """The consumer in a thread, consuming once ``wait_ready``; stopped (SIGTERM's way: the stop event)
    and joined at exit."""
    stop = threading.Event()
    kwargs = {"options": FAST, "record": record}
    thread = threading.Thread(target=run_audit, args=(settings, stop), kwargs=kwargs, name="audit")
    thread.start()
    try:
        if wait_ready:
            wait_for(lambda: consumer_count(settings.amqp_url, settings.audit_queue) > 0, what="the consumer")
        yield thread
    finally:
        stop.set()
        thread.join(STOP_TIMEOUT_S)
        assert not thread.is_alive(), "the audit consumer did not stop"


class Recording:
    """``record_events``, remembering the event ids of every batch it was given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, engine: Engine, events: Sequence[AuditEvent]) -> int:
        inserted = record_events(engine, events)
        self.seen.extend(event.event_id for event in events)
        return inserted


def publish(amqp_url: str, deliveries: Sequence[tuple[str, bytes]]) -> None:
    """Publishes (routing key, body) pairs on doc.events with confirms, as the relay does."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.exchange_declare(EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE, durable=True)
        channel.confirm_delivery()
        for routing_key, body in deliveries:
            properties = pika.BasicProperties(content_type="application/json", delivery_mode=2)
            channel.basic_publish(EVENTS_EXCHANGE, routing_key, body, properties, mandatory=True)
    finally:
        connection.close()


def publish_events(amqp_url: str, bodies: Sequence[dict[str, Any]]) -> None:
    publish(amqp_url, [("member.added", json.dumps(body).encode()) for body in bodies])


def drain(amqp_url: str, queue: str) -> list[bytes]:
    """Every message ready in the queue, acked (so removed)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    bodies = []
    try:
        channel = connection.channel()
        while (got := channel.basic_get(queue, auto_ack=True))[0] is not None:
            bodies.append(got[2])
    finally:
        connection.close()
    return bodies


def delete_queues(amqp_url: str, settings: Settings) -> None:
    delete_queue(amqp_url, settings.audit_queue, dead_letter_queue(settings.audit_queue))


def delete_queue(amqp_url: str, *queues: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_delete(queue)
    finally:
        connection.close()


def own_queue(database_url: str, amqp_url: str) -> Iterator[Settings]:
    """For a fixture: settings naming a queue of the test's own, deleted afterwards with its dead letters."""
    settings = audit_settings(database_url, amqp_url)
    yield settings
    delete_queues(amqp_url, settings)


def row_counts(engine: Engine, event_ids: Sequence[str]) -> dict[str, int]:
    query = (
        select(audit_log.c.event_id, func.count())
        .where(audit_log.c.event_id.in_(list(event_ids)))
        .group_by(audit_log.c.event_id)
    )
    with engine.connect() as connection:
        counts = {str(event_id): int(count) for event_id, count in connection.execute(query)}
    return {event_id: counts.get(event_id, 0) for event_id in event_ids}


def scrape_audit(port: int) -> dict[str, float]:
    """The audit consumer's own series on its metrics port, by name (the client library's left out)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("docfleet_audit_") and not sample.name.endswith("_created")
    }
