"""Helpers for the relay tests (no tests here): relays in threads, events committed through a unit of work."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pika
from sqlalchemy import Engine, select

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.postgres.engine import create_engine
from adapters.postgres.tables import outbox
from adapters.postgres.unit_of_work import unit_of_work_factory
from adapters.rabbitmq.publisher import EventPublisher
from adapters.rabbitmq.wire import PublishableEvent
from domain.events import DocumentUploaded, Event
from tests.support.services import rabbitmqctl
from workers.metrics.relay import RelayMetrics
from workers.relay import Publisher, RelayOptions, run_relay
from workers.settings import Settings

STOP_TIMEOUT_S = 30.0


def relay_settings(database_url: str, amqp_url: str) -> Settings:
    return dataclasses.replace(
        Settings.from_env(), database_url=database_url, amqp_url=amqp_url, metrics_enabled=False
    )


class RecordingPublisher:
    """An ``EventPublisher`` that remembers the event ids it published (confirmed), in order."""

    def __init__(self, amqp_url: str, name: str, published: list[str]) -> None:
        self._inner = EventPublisher(amqp_url, name=name, timeout=10.0)
        self._published = published

    def publish(self, records: Sequence[PublishableEvent]) -> set[str]:
        refused = self._inner.publish(records)
        self._published.extend(record.event_id for record in records if record.event_id not in refused)
        return refused

    def keepalive(self) -> None:
        self._inner.keepalive()

    def close(self) -> None:
        self._inner.close()


class RunningRelay:
    def __init__(self, name: str) -> None:
        self.name = name
        self.published: list[str] = []
        self.metrics = RelayMetrics()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None


@contextmanager
def running_relay(
    database_url: str,
    amqp_url: str,
    options: RelayOptions | None = None,
    publisher: Callable[[RunningRelay], Publisher] | None = None,
) -> Iterator[RunningRelay]:
    """A relay in a thread, publishing through a connection named uniquely (by default a
    ``RecordingPublisher`` into ``relay.published``); stopped and joined at exit."""
    relay = RunningRelay(f"relay-test-{uuid.uuid4().hex[:8]}")
    settings = relay_settings(database_url, amqp_url)
    new_publisher = publisher or (lambda r: RecordingPublisher(amqp_url, r.name, r.published))
    relay.thread = threading.Thread(
        target=run_relay,
        args=(settings, relay.stop),
        kwargs={
            "options": options or RelayOptions(poll_interval=0.5, backoff_max=2.0),
            "publisher_factory": lambda: new_publisher(relay),
            "metrics": relay.metrics,
        },
        name=relay.name,
        daemon=True,
    )
    relay.thread.start()
    try:
        yield relay
    finally:
        stop_relay(relay)


def stop_relay(relay: RunningRelay) -> None:
    relay.stop.set()
    assert relay.thread is not None
    relay.thread.join(STOP_TIMEOUT_S)
    assert not relay.thread.is_alive(), f"{relay.name} did not stop within {STOP_TIMEOUT_S} s"


@contextmanager
def engine_for(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, pool_size=2)
    try:
        yield engine
    finally:
        engine.dispose()


def commit_events(engine: Engine, events: Sequence[Event]) -> None:
    """Records the events in one unit of work and commits, as a use case does."""
    with unit_of_work_factory(engine)(None) as uow:
        for event in events:
            uow.record(event)
        uow.commit()


def uploaded(org_id: str, doc_id: str, version: int = 1) -> DocumentUploaded:
    return DocumentUploaded(
        org_id=org_id,
        doc_id=doc_id,
        owner_id="u-owner",
        uploaded_by="u-owner",
        folder_id="f-root",
        version=version,
        name=f"report-v{version}.pdf",
        mime_type="application/pdf",
    )


def published_at(engine: Engine, event_ids: Sequence[str]) -> dict[str, object]:
    query = select(outbox.c.event_id, outbox.c.published_at).where(outbox.c.event_id.in_(event_ids))
    with engine.connect() as connection:
        return {str(row.event_id): row.published_at for row in connection.execute(query)}


def close_connections_named(name: str) -> int:
    """Closes, from the server side, the RabbitMQ connections whose client gave this connection name."""
    listing = rabbitmqctl("list_connections", "--no-table-headers", "pid", "client_properties")
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if f'"{name}"' in line]
    for pid in pids:
        rabbitmqctl("close_connection", pid, "closed by a relay test")
    return len(pids)


@contextmanager
def refusing_queue(amqp_url: str, binding: str) -> Iterator[str]:
    """A queue bound to ``doc.events`` by ``binding`` that refuses every event, as a full queue with
    ``x-overflow: reject-publish`` does: RabbitMQ nacks what is routed to it. Deleted at exit."""
    name = f"full-{uuid.uuid4().hex[:8]}"
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        channel = connection.channel()
        channel.exchange_declare(EVENTS_EXCHANGE, "topic", durable=True)
        channel.queue_declare(name, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
        channel.queue_bind(name, EVENTS_EXCHANGE, binding)
        try:
            yield name
        finally:
            channel.queue_delete(name)
