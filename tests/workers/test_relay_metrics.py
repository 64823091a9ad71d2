"""What the relay's metrics say about its batches: how many events each carried, by routing key, and
how long it waited to gather them while busy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
