"""What the worker's metrics middleware counts: each attempt once; for a nack, a dead letter sent, under its
queue's name."""

from __future__ import annotations

from types import SimpleNamespace

import dramatiq
from dramatiq.broker import MessageProxy

from tests.workers.metric_samples import sample
from workers.metrics.definitions import WorkerMetrics
from workers.metrics.tally import MessageTally
from workers.middleware.metrics import Metrics
from workers.middleware.outcomes import note_outcome
from workers.middleware.redeliveries import SETTLED_BEFORE_OPTION
from workers.settlement import mark_not_sent


def _nacked(queue: str, actor: str = "add_member", *, sent: bool = True) -> WorkerMetrics:
    metrics, counting = WorkerMetrics(), Metrics()
    tally = MessageTally(metrics)
    counting._tally = tally
    message = MessageProxy(
        dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs={}, options={})
    )
    if not sent:
        mark_not_sent(message)
    counting.after_nack(SimpleNamespace(actors={"add_member": None}), message)  # type: ignore[arg-type]
    tally.write()
    return metrics


def _dead_letters(metrics: WorkerMetrics, queue: str, actor: str) -> float:
    return sample(metrics.dead_lettered, "_total", queue=queue, actor=actor)


def test_a_nack_sent_counts_one_dead_letter_under_its_queue() -> None:
    metrics = _nacked("documents")
    assert _dead_letters(metrics, "documents", "add_member") == 1
    assert sample(metrics.outcomes, "_total", actor="add_member", outcome="invalid") == 0  # its attempt's


def test_one_taken_from_a_delay_queue_counts_under_its_queue() -> None:
    metrics = _nacked("documents.DQ")
    assert _dead_letters(metrics, "documents", "add_member") == 1
    assert _dead_letters(metrics, "documents.DQ", "add_member") == 0


def test_an_unknown_actor_counts_its_dead_letter_and_its_outcome_under_unknown() -> None:
    metrics = _nacked("documents", actor="drop_table")
    assert _dead_letters(metrics, "documents", "unknown") == 1
    assert sample(metrics.outcomes, "_total", actor="unknown", outcome="invalid") == 1
    assert _dead_letters(metrics, "documents", "drop_table") == 0


def test_a_nack_not_sent_after_a_lost_connection_counts_nothing() -> None:
    metrics = _nacked("documents", sent=False)
    assert _dead_letters(metrics, "documents", "add_member") == 0


def _attempt(counting: Metrics, *, started: bool) -> None:
    message = MessageProxy(
        dramatiq.Message(queue_name="documents", actor_name="add_member", args=(), kwargs={}, options={})
    )
    broker = SimpleNamespace(actors={"add_member": None})
    if started:
        counting.before_process_message(broker, message)  # type: ignore[arg-type]
    note_outcome("applied", org_id="org-1")
    counting.after_process_message(broker, message)  # type: ignore[arg-type]


def test_each_attempt_counts_once_and_one_whose_start_was_not_seen_leaves_in_progress_alone() -> None:
    metrics, counting = WorkerMetrics(), Metrics()
    tally = MessageTally(metrics)
    counting._tally = tally
    _attempt(counting, started=True)
    _attempt(counting, started=False)
    tally.write()
    member = {"queue": "documents", "actor": "add_member"}
    assert sample(metrics.processed, "_total", **member) == 2
    assert sample(metrics.outcomes, "_total", actor="add_member", outcome="applied") == 2
    assert sample(metrics.duration, "_count", **member) == 1
    assert sample(metrics.in_progress, "", **member) == 0


def _skipped(options: dict[str, object], *, failed: bool) -> WorkerMetrics:
    metrics, counting = WorkerMetrics(), Metrics()
    tally = MessageTally(metrics)
    counting._tally = tally
    message = MessageProxy(
        dramatiq.Message(queue_name="documents", actor_name="add_member", args=(), kwargs={}, options=options)
    )
    broker = SimpleNamespace(actors={"add_member": None})
    counting.before_process_message(broker, message)  # type: ignore[arg-type]
    if failed:
        message.fail()
    counting.after_skip_message(broker, message)  # type: ignore[arg-type]
    tally.write()
    return metrics


def test_a_message_skipped_past_the_redelivery_limit_counts_as_dead_lettered_or_as_a_duplicate() -> None:
    dead = _skipped({}, failed=True)
    settled = _skipped({SETTLED_BEFORE_OPTION: True}, failed=False)

    assert sample(dead.outcomes, "_total", actor="add_member", outcome="dead_lettered") == 1
    assert sample(settled.outcomes, "_total", actor="add_member", outcome="duplicate") == 1
    assert sample(settled.outcomes, "_total", actor="add_member", outcome="skipped") == 0


def test_a_message_skipped_unrun_leaves_in_progress_and_the_duration_alone() -> None:
    """Its near-zero time would pull the duration's quantiles down during a storm of redeliveries."""
    metrics = _skipped({}, failed=True)
    member = {"queue": "documents", "actor": "add_member"}

    assert sample(metrics.processed, "_total", **member) == 1
    assert sample(metrics.failed, "_total", **member) == 1
    assert sample(metrics.in_progress, "", **member) == 0
    assert sample(metrics.duration, "_count", **member) == 0
