"""What the relay's metrics say about its batches: how many events each carried, by routing key, and
how long it waited to gather them while busy."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tests.support.clocks import Clock
from workers.metrics.outbox_backlog import OutboxCollector
from workers.metrics.relay import RelayMetrics


@dataclass(frozen=True)
class Event:
    routing_key: str
    event_id: str = "e"
    type: str = "T"
    payload: dict[str, Any] = field(default_factory=dict)


def batch(*routing_keys: str) -> list[Event]:
    return [Event(key) for key in routing_keys]


def sample(metrics: RelayMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_each_batch_is_observed_once_with_its_size() -> None:
    metrics = RelayMetrics()

    metrics.published(batch("member.added"))
    metrics.published(batch(*["document.uploaded"] * 7, "document.shared"))

    assert sample(metrics, "docfleet_relay_batch_events_count") == 2
    assert sample(metrics, "docfleet_relay_batch_events_sum") == 9
    assert sample(metrics, "docfleet_relay_batch_events_bucket", le="1.0") == 1
    assert sample(metrics, "docfleet_relay_batch_events_bucket", le="5.0") == 1
    assert sample(metrics, "docfleet_relay_batch_events_bucket", le="10.0") == 2


def test_events_are_counted_by_routing_key() -> None:
    metrics = RelayMetrics()

    metrics.published(batch("document.uploaded", "document.shared", "document.uploaded"))

    assert sample(metrics, "docfleet_relay_events_published_total", routing_key="document.uploaded") == 2
    assert sample(metrics, "docfleet_relay_events_published_total", routing_key="document.shared") == 1


def test_a_rejection_of_an_unknown_actor_is_labelled_other() -> None:
    metrics = RelayMetrics()

    metrics.published(batch("command.rejected.no_such_actor", "command.rejected.share_document"))

    assert sample(metrics, "docfleet_relay_events_published_total", routing_key="command.rejected.other") == 1
    assert (
        sample(
            metrics, "docfleet_relay_events_published_total", routing_key="command.rejected.share_document"
        )
        == 1
    )


def test_the_time_spent_gathering_adds_up() -> None:
    metrics = RelayMetrics()

    metrics.gathered(0.02)
    metrics.gathered(0.015)

    assert abs(sample(metrics, "docfleet_relay_gathering_seconds_total") - 0.035) < 1e-9


class FakeBacklog:
    """The outbox as the gauges read it; ``reads`` counts the readings."""

    def __init__(self, pending: int = 0, oldest_age_s: float | None = None) -> None:
        self.pending, self.oldest_age_s, self.reads = pending, oldest_age_s, 0
        self.down = False

    def pending_count(self) -> int:
        if self.down:
            raise ConnectionError("Postgres is down")
        self.reads += 1
        return self.pending

    def oldest_pending_age_seconds(self) -> float | None:
        return self.oldest_age_s


def test_the_backlog_is_read_when_scraped_even_while_a_batch_is_stuck() -> None:
    """Nothing in the relay's loop refreshes the gauges: a batch waiting for its confirms cannot hide the
    events committed meanwhile."""
    clock, backlog = Clock(100.0), FakeBacklog()
    metrics = RelayMetrics(clock=clock)
    with metrics.leading(backlog):
        assert sample(metrics, "docfleet_relay_outbox_pending") == 0
        backlog.pending, backlog.oldest_age_s = 3, 8.5
        clock.now += 1.0

        assert sample(metrics, "docfleet_relay_outbox_pending") == 3
        assert sample(metrics, "docfleet_relay_outbox_oldest_pending_age_seconds") == 8.5
        assert sample(metrics, "docfleet_relay_leader") == 1


def test_a_reading_serves_the_scrapes_of_the_next_second() -> None:
    clock, backlog = Clock(100.0), FakeBacklog(pending=2)
    metrics = RelayMetrics(clock=clock)
    with metrics.leading(backlog):
        for _ in range(5):
            sample(metrics, "docfleet_relay_outbox_pending")
        assert backlog.reads == 1
        clock.now += 1.0
        sample(metrics, "docfleet_relay_outbox_pending")
        assert backlog.reads == 2


def test_a_relay_on_standby_or_unable_to_read_postgres_shows_no_backlog() -> None:
    clock, backlog = Clock(100.0), FakeBacklog(pending=4)
    metrics = RelayMetrics(clock=clock)
    assert metrics.registry.get_sample_value("docfleet_relay_outbox_pending") is None
    assert sample(metrics, "docfleet_relay_leader") == 0
    with metrics.leading(backlog):
        backlog.down = True
        assert metrics.registry.get_sample_value("docfleet_relay_outbox_pending") is None
        assert sample(metrics, "docfleet_relay_leader") == 1
    assert backlog.reads == 0


class HangingBacklog(FakeBacklog):
    """A Postgres that stops answering once ``hang`` is set, until ``release`` is."""

    def __init__(self, pending: int) -> None:
        super().__init__(pending=pending)
        self.hang, self.release = threading.Event(), threading.Event()
        self.attempts = 0

    def pending_count(self) -> int:
        self.attempts += 1
        if self.hang.is_set():
            self.release.wait(30)
        return super().pending_count()


def test_a_postgres_that_hangs_costs_a_scrape_its_wait_not_the_endpoint() -> None:
    clock, backlog = Clock(100.0), HangingBacklog(pending=5)
    registry = CollectorRegistry()
    collector = OutboxCollector(refresh_every=1.0, clock=clock, wait_s=0.05, stale_after_s=10.0)
    registry.register(collector)
    collector.lead(backlog)
    try:
        assert registry.get_sample_value("docfleet_relay_outbox_pending") == 5
        backlog.hang.set()
        clock.now += 2.0  # due for a new reading, which hangs: the last one, 2 s old, is served
        assert registry.get_sample_value("docfleet_relay_outbox_pending") == 5
        clock.now += 9.0  # 11 s old: past stale_after_s, no figure rather than an old one
        assert registry.get_sample_value("docfleet_relay_outbox_pending") is None
        assert registry.get_sample_value("docfleet_relay_leader") == 1
        assert backlog.attempts == 2, "one read under way at a time, however many scrapes"
    finally:
        backlog.release.set()


def test_a_stuck_read_stays_the_only_one_across_leadership_terms() -> None:
    """The relay lets the leadership go and takes it again at every error: each term must not start a
    read of its own beside one still stuck, each holding a pooled connection."""
    clock, backlog = Clock(100.0), HangingBacklog(pending=5)
    registry = CollectorRegistry()
    collector = OutboxCollector(refresh_every=1.0, clock=clock, wait_s=0.05, stale_after_s=10.0)
    registry.register(collector)
    backlog.hang.set()
    try:
        for _ in range(4):
            collector.lead(backlog)
            assert registry.get_sample_value("docfleet_relay_outbox_pending") is None
            collector.lead(None)
        assert backlog.attempts == 1
    finally:
        backlog.release.set()


def test_a_read_whose_thread_cannot_start_is_tried_again_at_the_next_scrape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry, backlog = CollectorRegistry(), FakeBacklog(pending=3)
    collector = OutboxCollector(refresh_every=1.0, clock=Clock(100.0), wait_s=1.0)
    registry.register(collector)
    collector.lead(backlog)
    start = threading.Thread.start

    def refuse_once(thread: threading.Thread) -> None:
        monkeypatch.setattr(threading.Thread, "start", start)
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse_once)

    assert registry.get_sample_value("docfleet_relay_outbox_pending") is None
    assert registry.get_sample_value("docfleet_relay_outbox_pending") == 3
