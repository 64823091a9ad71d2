"""The label sets an alert waits for are served at 0 from the start: ``rate()`` and ``increase()`` read a
series born at its first count as no increase, so the first dead letter, refusal or error would be missed."""

from __future__ import annotations

import pytest

from tests.workers.metric_samples import served
from workers.contract import ACTOR_KWARGS, COMMANDS_QUEUE, QUERIES_QUEUE, queue_of
from workers.metrics.definitions import WorkerMetrics
from workers.metrics.relay import RelayMetrics


@pytest.mark.parametrize("actor", sorted(ACTOR_KWARGS))
def test_each_actors_message_counters_start_at_zero(actor: str) -> None:
    metrics = WorkerMetrics()
    labels = {"queue": queue_of(actor), "actor": actor}

    for counter in (metrics.processed, metrics.failed, metrics.retried, metrics.dead_lettered):
        assert served(counter, "_total", **labels) == 0
    assert served(metrics.outcomes, "_total", actor=actor, outcome="dead_lettered") == 0
    assert served(metrics.outcomes, "_total", actor=actor, outcome="invalid") == 0


def test_the_outcomes_start_at_zero_by_kind_of_actor() -> None:
    metrics = WorkerMetrics()

    assert served(metrics.outcomes, "_total", actor="upload_document", outcome="applied") == 0
    assert served(metrics.outcomes, "_total", actor="list_folder", outcome="expired") == 0
    assert served(metrics.outcomes, "_total", actor="list_folder", outcome="applied") is None
    assert served(metrics.outcomes, "_total", actor="unknown", outcome="invalid") == 0


def test_dead_letters_of_no_actor_and_failed_batches_start_at_zero() -> None:
    metrics = WorkerMetrics()

    for queue in (COMMANDS_QUEUE, QUERIES_QUEUE):
        assert served(metrics.dead_lettered, "_total", queue=queue, actor="unknown") == 0
    assert served(metrics.group_commits, "_count", how="failed") == 0
    assert served(metrics.cache_lookups, "_total", cache="listing", result="miss") == 0


@pytest.mark.parametrize(
    "routing_key",
    [
        "document.uploaded",
        "document.shared.editor",
        "command.rejected.upload_document",
        "command.rejected.other",
    ],
)
def test_the_relays_counters_by_routing_key_start_at_zero(routing_key: str) -> None:
    registry = RelayMetrics().registry

    for name in ("published", "refused", "given_up"):
        value = registry.get_sample_value(f"docfleet_relay_events_{name}_total", {"routing_key": routing_key})
        assert value == 0, name


def test_the_relays_errors_start_at_zero_for_each_service() -> None:
    registry = RelayMetrics().registry

    for service in ("rabbitmq", "postgres", "other"):
        assert registry.get_sample_value("docfleet_relay_errors_total", {"service": service}) == 0
