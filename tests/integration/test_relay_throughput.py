"""How fast the relay drains a backlog: fetch, publish with confirms, mark published, batch after batch.

Run with ``-s`` to see the figure. On a 2-CPU machine the relay drains about 3,000 events/s; with one
confirm round trip per message (a BlockingChannel in confirm mode) it drained about 500. The floor sits
between the two: it catches that regression without failing on a busy machine.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pika
import pytest
from sqlalchemy import Engine, func, select

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.postgres.tables import outbox
from adapters.rabbitmq.connection import EVENTS_EXCHANGE_TYPE
from tests.integration.test_relay_support import commit_events, engine_for, running_relay, uploaded
from workers.relay import RelayOptions

pytestmark = pytest.mark.integration

EVENTS = 10_000
PER_COMMIT = 100
FLOOR_PER_SECOND = 1_000


@pytest.fixture
def bound_queue(amqp_url: str) -> Iterator[str]:
    """A durable queue bound to ``document.uploaded``: the events are routed and stored, as in production."""
    name = f"relay-throughput-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.exchange_declare(EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE, durable=True)
    channel.queue_declare(name, durable=True)
    channel.queue_bind(name, EVENTS_EXCHANGE, routing_key="document.uploaded")
    try:
        yield name
    finally:
        channel.queue_delete(name)
        connection.close()


def test_the_relay_drains_a_backlog_quickly(database_url: str, amqp_url: str, bound_queue: str) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    with engine_for(database_url) as engine:
        for start in range(0, EVENTS, PER_COMMIT):
            commit_events(engine, [uploaded(org, f"doc-{n}") for n in range(start, start + PER_COMMIT)])
        with running_relay(database_url, amqp_url, RelayOptions(batch_size=500)) as relay:
            started = time.monotonic()
            _wait_until_drained(engine, org, timeout=120.0)
            elapsed = time.monotonic() - started
        ours = len(set(relay.published))

    rate = EVENTS / elapsed
    print(f"\nrelay throughput: {EVENTS} events in {elapsed:.2f} s = {rate:,.0f} events/s")
    assert ours >= EVENTS
    assert _queued(amqp_url, bound_queue) >= EVENTS
    assert rate > FLOOR_PER_SECOND


def _wait_until_drained(engine: Engine, org: str, timeout: float) -> None:
    query = (
        select(func.count())
        .select_from(outbox)
        .where(outbox.c.org_id == org, outbox.c.published_at.is_(None))
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.scalar(query) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"the backlog was not drained within {timeout} s")


def _queued(amqp_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()
