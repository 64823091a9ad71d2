"""How the relay batches, checked by counting rather than timing (its speed is measured by ``make bench``,
docs/performance.md):

- a backlog goes out in full batches, each written out whole and then confirmed with one wait; a
  confirm-mode ``BlockingChannel`` would wait for RabbitMQ once per message, so a wait would find one
  message in flight instead of the whole batch;
- events committed while the relay is busy gather into its next batch instead of one batch each.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence

import pika
import pytest
from sqlalchemy import Engine, func, select

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.postgres.tables import outbox
from adapters.rabbitmq.connection import EVENTS_EXCHANGE_TYPE
from adapters.rabbitmq.publisher import EventPublisher
from adapters.rabbitmq.wire import PublishableEvent
from tests.integration.test_relay_support import (
    RunningRelay,
    commit_events,
    engine_for,
    running_relay,
    uploaded,
)
from tests.support.rabbitmq import queue_depth
from tests.support.waiting import wait_for
from workers.relay import Publisher, RelayOptions

pytestmark = pytest.mark.integration

EVENTS = 10_000
PER_COMMIT = 100
BATCH = 500


class BatchWatchingPublisher(EventPublisher):
    """Notes each batch's size, and how many messages awaited their confirms whenever it waited for
    RabbitMQ (connecting and closing are waits with none)."""

    def __init__(self, amqp_url: str, name: str) -> None:
        self.batches: list[int] = []
        self.in_flight_at_waits: list[int] = []
        super().__init__(amqp_url, name=name, timeout=10.0)

    def publish(self, records: Sequence[PublishableEvent]) -> set[str]:
        self.batches.append(len(records))
        return super().publish(records)

    def _run_until(
        self, done: Callable[[], bool], what: str, timeout: float | None = None, *, patient: bool = False
    ) -> None:
        self.in_flight_at_waits.append(len(self._pending))
        super()._run_until(done, what, timeout, patient=patient)


@pytest.fixture
def bound_queue(amqp_url: str) -> Iterator[str]:
    """A durable queue bound to ``document.uploaded``: the events are routed and stored, as in production."""
    name = f"relay-backlog-{uuid.uuid4().hex[:8]}"
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


def test_a_backlog_goes_out_in_full_batches_each_confirmed_with_one_wait(
    fresh_database_url: str, amqp_url: str, bound_queue: str
) -> None:
    publishers, watching = _watching(amqp_url)
    with engine_for(fresh_database_url) as engine:
        for start in range(0, EVENTS, PER_COMMIT):
            commit_events(
                engine, [uploaded("org-backlog", f"doc-{n}") for n in range(start, start + PER_COMMIT)]
            )
        with running_relay(fresh_database_url, amqp_url, RelayOptions(batch_size=BATCH), publisher=watching):
            wait_for(lambda: _drained(engine), timeout=120.0, what="the backlog drained")

    [publisher] = publishers  # one leadership, no error on the way
    assert publisher.batches == [BATCH] * (EVENTS // BATCH)
    assert [n for n in publisher.in_flight_at_waits if n] == publisher.batches
    assert queue_depth(amqp_url, bound_queue) == EVENTS


def test_events_committed_while_the_relay_is_busy_go_out_in_one_batch(
    fresh_database_url: str, amqp_url: str
) -> None:
    """The rate that makes the relay busy is set low: the test is of the wiring, not of the rule
    (tests/unit/test_relay_pacing.py). The backlog found at start is never busy: no batch came before."""
    publishers, watching = _watching(amqp_url)
    options = RelayOptions(poll_interval=0.2, busy_rate=1.0, busy_window=3.0)
    with engine_for(fresh_database_url) as engine:
        commit_events(engine, [uploaded("org-busy", f"doc-{n}") for n in range(10)])
        with running_relay(fresh_database_url, amqp_url, options, publisher=watching) as relay:
            wait_for(lambda: _batches(publishers) == [10], what="the backlog's batch")
            commit_events(engine, [uploaded("org-busy", f"doc-{n}") for n in range(10, 20)])
            wait_for(lambda: _batches(publishers) == [10, 10], what="a busy batch")
            for n in range(20, 25):  # five transactions, each notifying the relay, within its window
                commit_events(engine, [uploaded("org-busy", f"doc-{n}")])
            wait_for(lambda: _drained(engine), what="every event published")

    assert _batches(publishers) == [10, 10, 5]
    assert _sample(relay, "docfleet_relay_batch_events_count") == 3
    assert _sample(relay, "docfleet_relay_batch_events_sum") == 25
    assert _sample(relay, "docfleet_relay_gathering_seconds_total") > 0


def _sample(relay: RunningRelay, name: str) -> float:
    return relay.metrics.registry.get_sample_value(name) or 0.0


def _batches(publishers: list[BatchWatchingPublisher]) -> list[int]:
    return publishers[0].batches if publishers else []


def _watching(amqp_url: str) -> tuple[list[BatchWatchingPublisher], Callable[[RunningRelay], Publisher]]:
    """The publishers a relay makes, and the factory that makes them and keeps them in that list."""
    publishers: list[BatchWatchingPublisher] = []

    def watching(relay: RunningRelay) -> BatchWatchingPublisher:
        publishers.append(BatchWatchingPublisher(amqp_url, relay.name))
        return publishers[-1]

    return publishers, watching


def _drained(engine: Engine) -> bool:
    query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    with engine.connect() as connection:
        return connection.scalar(query) == 0
