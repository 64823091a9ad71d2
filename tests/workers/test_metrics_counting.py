"""What the worker's metrics middleware counts for a nack: a dead letter sent, under its queue's name."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy

from workers.middleware.metrics import Metrics
from workers.settlement import mark_not_sent


class _Counter:
    def __init__(self) -> None:
        self.counted: list[tuple[str, ...]] = []

    def labels(self, *labels: str) -> Any:
        return SimpleNamespace(inc=lambda: self.counted.append(labels))


def _nacked(queue: str, *, sent: bool = True) -> tuple[list[tuple[str, ...]], Metrics]:
    metrics = Metrics()
    dead_lettered = _Counter()
    metrics._metrics = SimpleNamespace(dead_lettered=dead_lettered, outcomes=_Counter())  # type: ignore[assignment]
    message = MessageProxy(
        dramatiq.Message(queue_name=queue, actor_name="add_member", args=(), kwargs={}, options={})
    )
    if not sent:
        mark_not_sent(message)
    metrics.after_nack(SimpleNamespace(actors={"add_member": None}), message)  # type: ignore[arg-type]
    return dead_lettered.counted, metrics


def test_a_nack_sent_counts_one_dead_letter_under_its_queue() -> None:
    counted, _ = _nacked("documents")
    assert counted == [("documents", "add_member")]


def test_one_taken_from_a_delay_queue_counts_under_its_queue() -> None:
    counted, _ = _nacked("documents.DQ")
    assert counted == [("documents", "add_member")]


def test_a_nack_not_sent_after_a_lost_connection_counts_nothing() -> None:
    counted, _ = _nacked("documents", sent=False)
    assert counted == []
