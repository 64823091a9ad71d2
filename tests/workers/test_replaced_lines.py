"""Which of Dramatiq's own lines the outcome lines replace, and which tracebacks are expected races."""

from __future__ import annotations

import logging
import sys

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
