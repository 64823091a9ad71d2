"""The relay's metrics, served by the relay process itself on ``RELAY_METRICS_PORT``.

Events published per routing key, the size of each published batch and the time spent gathering
events while busy (``workers.relay_pacing``); and, from the relay that holds the leadership only, the
outbox backlog (``pending``) and the publish lag (the age of the oldest pending event), read from
Postgres when scraped (at most once a second): a relay stuck on a batch, waiting for RabbitMQ's
confirms, must not report the backlog as it was before. A relay on standby reports
``docfleet_relay_leader 0`` and no outbox gauges, so the outbox is never counted twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.rabbitmq.wire import PublishableEvent
from workers.contract import ACTOR_KWARGS
from workers.metrics.exposition import serving
from workers.settings import Settings

log = structlog.get_logger("docfleet.relay")

REJECTED_PREFIX = "command.rejected."
DEFAULT_REFRESH_SECONDS = 1.0
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class OutboxBacklog(Protocol):
    """What the gauges read (``adapters.postgres.outbox.OutboxStore``)."""

    def pending_count(self) -> int: ...

    def oldest_pending_age_seconds(self) -> float | None: ...


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
        self._outbox = _OutboxCollector(refresh_every, clock)
        registry.register(self._outbox)

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


class _OutboxCollector(Collector):
    """Reads the backlog in the scraping thread, on a pooled connection: a reading is kept for
    ``refresh_every`` seconds, however often it is scraped. If Postgres cannot be read, the scrape goes
    on without the outbox gauges, which would otherwise show a figure nobody measured."""

    def __init__(self, refresh_every: float, clock: Callable[[], float]) -> None:
        self._refresh_every, self._clock = refresh_every, clock
        self._lock = threading.Lock()
        self._backlog: OutboxBacklog | None = None  # while leading
        self._reading: tuple[float, int, float] | None = None  # (when, pending, oldest age)

    def lead(self, backlog: OutboxBacklog | None) -> None:
        with self._lock:
            self._backlog, self._reading = backlog, None

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            backlog, reading = self._backlog, self._reading
        yield GaugeMetricFamily(
            "docfleet_relay_leader",
            "1 while this relay leads (publishes), 0 on standby.",
            value=int(backlog is not None),
        )
        if backlog is None:
            return
        if reading is None or self._clock() - reading[0] >= self._refresh_every:
            reading = self._read(backlog)
        if reading is not None:
            _, pending, oldest = reading
            yield GaugeMetricFamily(
                "docfleet_relay_outbox_pending", "Outbox events not yet published.", value=pending
            )
            yield GaugeMetricFamily(
                "docfleet_relay_outbox_oldest_pending_age_seconds",
                "Publish lag: the age of the oldest unpublished outbox event (0 when none is pending).",
                value=oldest,
            )

    def _read(self, backlog: OutboxBacklog) -> tuple[float, int, float] | None:
        try:
            reading = (self._clock(), backlog.pending_count(), backlog.oldest_pending_age_seconds() or 0.0)
        except Exception as error:  # the endpoint's other figures are still worth serving
            log.warning("relay outbox gauges not read", error=f"{type(error).__name__}: {error}")
            return None
        with self._lock:
            if self._backlog is backlog:  # still leading with it: keep the reading for the next scrape
                self._reading = reading
        return reading


@contextmanager
def relay_metrics(settings: Settings) -> Iterator[RelayMetrics]:
    """The relay's metrics, served on ``relay_metrics_port`` inside the block when metrics are enabled."""
    metrics = RelayMetrics(CollectorRegistry())
    if not settings.metrics_enabled:
        yield metrics
        return
    with serving(metrics.registry, settings.relay_metrics_port, component="relay"):
        yield metrics
