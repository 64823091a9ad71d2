"""The relay's outbox gauges: the backlog and the publish lag, read from Postgres when scraped.

A relay stuck on a batch, waiting for RabbitMQ's confirms, must not report the backlog as it was
before, so nothing in the relay's loop refreshes them. Nor may a scrape wait on Postgres for long: a
Postgres that hangs would then cost the endpoint every other figure, the relay's errors among them. So
each read runs in a thread of its own, one at a time; a scrape waits for it at most ``wait_s``, and
serves the last reading if it is at most ``stale_after_s`` old, else no outbox gauges at all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = structlog.get_logger("docfleet.relay")

Reading = tuple[float, int, float]  # (when, pending, the oldest's age in seconds)


class OutboxBacklog(Protocol):
    """What the gauges read (``adapters.postgres.outbox.OutboxStore``)."""

    def pending_count(self) -> int: ...

    def oldest_pending_age_seconds(self) -> float | None: ...


class OutboxCollector(Collector):
    def __init__(
        self,
        refresh_every: float,
        clock: Callable[[], float],
        *,
        wait_s: float = 0.5,
        stale_after_s: float = 10.0,
    ) -> None:
        self._refresh_every, self._clock = refresh_every, clock
        self._wait_s, self._stale_after_s = wait_s, stale_after_s
        self._lock = threading.Lock()
        self._backlog: OutboxBacklog | None = None  # while leading
        self._reading: Reading | None = None
        self._in_flight: threading.Event | None = None  # set when the read under way ends

    def lead(self, backlog: OutboxBacklog | None) -> None:
        """A read still under way stays the one: a stuck read forgotten here would let every leadership
        term start another, each holding a pooled connection the relay's own reads need."""
        with self._lock:
            self._backlog, self._reading = backlog, None

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            backlog = self._backlog
        yield GaugeMetricFamily(
            "docfleet_relay_leader",
            "1 while this relay leads (publishes), 0 on standby.",
            value=int(backlog is not None),
        )
        reading = None if backlog is None else self._recent_reading(backlog)
        if reading is None:
            return
        _, pending, oldest = reading
        yield GaugeMetricFamily(
            "docfleet_relay_outbox_pending", "Outbox events not yet published.", value=pending
        )
        yield GaugeMetricFamily(
            "docfleet_relay_outbox_oldest_pending_age_seconds",
            "Publish lag: the age of the oldest unpublished outbox event (0 when none is pending).",
            value=oldest,
        )

    def _recent_reading(self, backlog: OutboxBacklog) -> Reading | None:
        """Starts a read if the last is ``refresh_every`` old and none is under way; waits for the one under
        way at most ``wait_s``; the last reading if it is recent enough."""
        with self._lock:
            due = self._reading is None or self._clock() - self._reading[0] >= self._refresh_every
            if due and self._in_flight is None:
                self._in_flight = self._started_read(backlog)
            in_flight = self._in_flight
        if in_flight is not None:
            in_flight.wait(self._wait_s)
        with self._lock:
            reading = self._reading if self._backlog is backlog else None
        if reading is None or self._clock() - reading[0] > self._stale_after_s:
            return None
        return reading

    def _started_read(self, backlog: OutboxBacklog) -> threading.Event | None:
        """A read in a thread of its own, and the event it sets when done; None if no thread could start
        (this scrape then serves what it has, and the next tries again)."""
        done = threading.Event()
        reader = threading.Thread(target=self._read, args=(backlog, done), name="relay-backlog", daemon=True)
        try:
            reader.start()
        except RuntimeError as error:  # "can't start new thread"
            log.warning("relay outbox gauges not read", error=f"{type(error).__name__}: {error}")
            return None
        return done

    def _read(self, backlog: OutboxBacklog, done: threading.Event) -> None:
        reading: Reading | None = None
        try:
            reading = (self._clock(), backlog.pending_count(), backlog.oldest_pending_age_seconds() or 0.0)
        except Exception as error:  # the endpoint's other figures are still worth serving
            log.warning("relay outbox gauges not read", error=f"{type(error).__name__}: {error}")
        with self._lock:
            if reading is not None and self._backlog is backlog:  # still leading with it
                self._reading = reading
            if self._in_flight is done:
                self._in_flight = None
        done.set()
