"""The relay's metrics, served by the relay process itself on ``RELAY_METRICS_PORT``.

Events published per routing key, the size of each published batch and the time spent gathering
events while busy (``workers.relay_pacing``); and, from the relay that holds the leadership only, the
outbox backlog (``pending``) and the publish lag (the age of the oldest pending event), read from
Postgres when scraped (``workers.metrics.outbox_backlog``). A relay on standby reports
``docfleet_relay_leader 0`` and no outbox gauges, so the outbox is never counted twice.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram

from adapters.event_codec import REJECTED_PREFIX, routing_keys
from adapters.rabbitmq.wire import PublishableEvent
from workers.contract import ACTOR_KWARGS
from workers.metrics.exposition import serving
from workers.metrics.outbox_backlog import OutboxBacklog, OutboxCollector
from workers.settings import Settings

RABBITMQ, POSTGRES, OTHER = "rabbitmq", "postgres", "other"  # the ``service`` label of the relay's errors
SERVICES = (RABBITMQ, POSTGRES, OTHER)
DEFAULT_REFRESH_SECONDS = 1.0
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


def routing_key_label(routing_key: str) -> str:
    """The routing key, except that a rejection of an actor docfleet does not have (a producer's typo, or
    a hostile name) is ``command.rejected.other``: label values stay a small, known set."""
    if routing_key.startswith(REJECTED_PREFIX) and routing_key[len(REJECTED_PREFIX) :] not in ACTOR_KWARGS:
        return f"{REJECTED_PREFIX}other"
    return routing_key


class RelayMetrics:
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        refresh_every: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry = registry or CollectorRegistry()
        self._published = Counter(
            "docfleet_relay_events_published",
            "Events the relay published on doc.events and RabbitMQ confirmed, by routing key.",
            ["routing_key"],
            registry=registry,
        )
        self._batches = Histogram(
            "docfleet_relay_batch_events",
            "Events per batch the relay published (up to its batch size, 500 by default).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self._refused = Counter(
            "docfleet_relay_events_refused",
            "Sends RabbitMQ refused (nacked), by routing key: a bound queue is full or over a limit.",
            ["routing_key"],
            registry=registry,
        )
        self._given_up = Counter(
            "docfleet_relay_events_given_up",
            "Events RabbitMQ kept refusing, marked published without its confirm, by routing key.",
            ["routing_key"],
            registry=registry,
        )
        self._gathering = Counter(
            "docfleet_relay_gathering_seconds",
            "Seconds the leading relay waited between batches to gather events, because it was busy.",
            registry=registry,
        )
        self._errors = Counter(
            "docfleet_relay_errors",
            "Times the relay started over after a RabbitMQ or Postgres error, by what failed.",
            ["service"],
            registry=registry,
        )
        self._outbox = OutboxCollector(refresh_every, clock)
        registry.register(self._outbox)
        self._start_at_zero()

    def _start_at_zero(self) -> None:
        """Every label set served at 0 from the start, so that ``increase()`` sees the first refusal, give-up
        or error (a series born at its first count reads as no increase)."""
        for key in [*routing_keys(ACTOR_KWARGS), f"{REJECTED_PREFIX}other"]:
            for counter in (self._published, self._refused, self._given_up):
                counter.labels(key)
        for service in SERVICES:
            self._errors.labels(service)

    def published(self, records: Sequence[PublishableEvent], *, sent: int | None = None) -> None:
        """``records``: the events RabbitMQ confirmed, of the ``sent`` in the batch (all, by default)."""
        _count_by_routing_key(self._published, records)
        self._batches.observe(len(records) if sent is None else sent)

    def refused(self, records: Sequence[PublishableEvent]) -> None:
        _count_by_routing_key(self._refused, records)

    def given_up(self, records: Sequence[PublishableEvent]) -> None:
        _count_by_routing_key(self._given_up, records)

    def gathered(self, seconds: float) -> None:
        self._gathering.inc(seconds)

    def failed(self, service: str) -> None:
        """The relay starts over after an error of ``service``: ``rabbitmq`` or ``postgres``."""
        self._errors.labels(service).inc()

    @contextmanager
    def leading(self, backlog: OutboxBacklog) -> Iterator[None]:
        """Around the time this relay leads: the outbox gauges, read from ``backlog``, are its own only
        meanwhile."""
        self._outbox.lead(backlog)
        try:
            yield
        finally:
            self._outbox.lead(None)


def _count_by_routing_key(counter: Counter, records: Sequence[PublishableEvent]) -> None:
    for label, count in Tally(routing_key_label(record.routing_key) for record in records).items():
        counter.labels(label).inc(count)


@contextmanager
def relay_metrics(settings: Settings) -> Iterator[RelayMetrics]:
    """The relay's metrics, served on ``relay_metrics_port`` inside the block when metrics are enabled."""
    metrics = RelayMetrics(CollectorRegistry())
    if not settings.metrics_enabled:
        yield metrics
        return
    port, address = settings.relay_metrics_port, settings.metrics_bind_address
    with serving(metrics.registry, port, component="relay", address=address):
        yield metrics
