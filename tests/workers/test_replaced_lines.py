"""Which of Dramatiq's own lines the outcome lines replace, and which tracebacks are expected races."""

from __future__ import annotations

import logging
import sys
import traceback

import dramatiq
import pytest

from adapters.postgres.errors import MemberAddedConcurrently, StaleDocumentVersion
from domain.errors import NotFound
from workers.middleware.outcomes import _ReplacedByOutcomeLines

UNHANDLED = "Failed to process message %s with unhandled exception."


def _record(message: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord(
        "dramatiq.worker.WorkerThread", logging.ERROR, __file__, 1, message, ("m",), exc_info
    )


@pytest.mark.parametrize(
    "error",
    [
        NotFound("no such folder", org_id="o"),
        MemberAddedConcurrently("Key (org_id, user_id)=(o, alice) already exists."),
        StaleDocumentVersion("doc-1", version=1),
    ],
    ids=["not found", "membership added first", "document stored first"],
)
def test_an_expected_failure_keeps_its_outcome_line_and_loses_dramatiqs_traceback(error: Exception) -> None:
    assert not _ReplacedByOutcomeLines().filter(_record(UNHANDLED, error))


def test_a_fault_keeps_its_traceback() -> None:
    assert _ReplacedByOutcomeLines().filter(_record(UNHANDLED, RuntimeError("the disk is full")))


def test_dramatiqs_retry_line_is_replaced() -> None:
    assert not _ReplacedByOutcomeLines().filter(_record("Retrying message %r in %d milliseconds."))


def _retried(error: BaseException, *, before: BaseException | None) -> logging.LogRecord:
    """Dramatiq's line for ``error``, on a message whose last attempt failed with ``before``."""
    options: dict[str, object] = {}
    if before is not None:
        try:
            raise before
        except BaseException:
            options = {"retries": 1, "traceback": traceback.format_exc(limit=30)}
    message = dramatiq.MessageProxy(
        dramatiq.Message(queue_name="documents", actor_name="add_member", args=(), kwargs={}, options=options)
    )
    record = _record(UNHANDLED, error)
    record.args = (message,)
    return record


def test_a_fault_that_fails_each_retry_the_same_way_has_one_traceback_not_one_per_retry() -> None:
    disk_full = RuntimeError("the disk is full")

    assert _ReplacedByOutcomeLines().filter(_retried(disk_full, before=None))
    assert not _ReplacedByOutcomeLines().filter(_retried(disk_full, before=RuntimeError("the disk is full")))


def test_a_fault_unlike_the_last_attempts_failure_keeps_its_traceback() -> None:
    refused = ConnectionError("connection refused")

    assert _ReplacedByOutcomeLines().filter(_retried(refused, before=RuntimeError("the disk is full")))
    assert _ReplacedByOutcomeLines().filter(_retried(refused, before=NotFound("no such folder", org_id="o")))
