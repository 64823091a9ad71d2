"""Each kind of failure waits on its own schedule: a NotFound after faults starts again at the actor's
min_backoff, as its budget starts again (docs/contract.md §4)."""

from __future__ import annotations

from contextvars import copy_context
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from domain.errors import DocumentNotFound
from workers.middleware.retries import (
    NOT_FOUND_RETRIES_OPTION,
    CountNotFound,
    RetriesOrDeadLetter,
    RetryPolicy,
)

MIN_BACKOFF, MAX_BACKOFF = 100, 2_000


def _delay_of(failure: BaseException, *, retries: int, not_found: int) -> int:
    """The delay Retries queues the next try with, after ``retries`` earlier ones (``not_found`` of them
    after a NotFound), as the broker runs the two middleware: CountNotFound, then Retries."""
    broker = StubBroker()
    broker.emit_after("process_boot")

    @dramatiq.actor(
        broker=broker,
        actor_name="upload_document",
        queue_name="documents",
        min_backoff=MIN_BACKOFF,
        max_backoff=MAX_BACKOFF,
        retry_when=RetryPolicy(not_found_retries=8, fault_retries=20),
    )
    def upload_document(**_kwargs: Any) -> None: ...

    queued: list[int | None] = []

    def enqueue(message: dramatiq.Message[Any], *, delay: int | None = None) -> dramatiq.Message[Any]:
        queued.append(delay)
        return message

    broker.enqueue = enqueue  # type: ignore[method-assign]
    options = {"retries": retries, NOT_FOUND_RETRIES_OPTION: not_found}
    sent: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents", actor_name="upload_document", args=(), kwargs={}, options=options
    )
    message = dramatiq.MessageProxy(sent)

    def fail() -> None:
        CountNotFound().after_process_message(broker, message, exception=failure)
        RetriesOrDeadLetter().after_process_message(broker, message, exception=failure)

    copy_context().run(fail)
    [delay] = queued
    assert delay is not None
    return delay


@pytest.mark.parametrize("_", range(5))
def test_a_not_found_after_ten_faults_waits_as_a_first_not_found_does(_: int) -> None:
    delay = _delay_of(DocumentNotFound("d1"), retries=10, not_found=0)

    assert MIN_BACKOFF <= delay <= 2 * MIN_BACKOFF


def test_a_fault_after_three_not_founds_waits_on_the_faults_own_count() -> None:
    delay = _delay_of(ConnectionError("postgres is down"), retries=4, not_found=3)  # one fault before

    assert 2 * MIN_BACKOFF <= delay <= 4 * MIN_BACKOFF
