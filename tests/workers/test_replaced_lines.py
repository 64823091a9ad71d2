"""Which of Dramatiq's own lines the outcome lines replace, and which tracebacks are expected races."""

from __future__ import annotations

import logging
import sys
import traceback

import dramatiq
import pytest

from adapters.postgres.errors import FolderCreatedConcurrently, MemberAddedConcurrently, StaleDocumentVersion
from domain.errors import NotFound
from workers.middleware.replaced_lines import _ReplacedByOutcomeLines

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
        FolderCreatedConcurrently("Key (id)=(f1) already exists."),
    ],
    ids=["not found", "membership added first", "document stored first", "folder created first"],
)
def test_an_expected_failure_keeps_its_outcome_line_and_loses_dramatiqs_traceback(error: Exception) -> None:
    assert not _ReplacedByOutcomeLines().filter(_record(UNHANDLED, error))


def test_a_fault_keeps_its_traceback() -> None:
    assert _ReplacedByOutcomeLines().filter(_record(UNHANDLED, RuntimeError("the disk is full")))


def test_dramatiqs_retry_line_is_replaced() -> None:
    assert not _ReplacedByOutcomeLines().filter(_record("Retrying message %r in %d milliseconds."))


def _raise(error: BaseException) -> None:
    raise error


def _caught(error: BaseException) -> tuple[BaseException, str]:
    """``error`` raised from one place, always the same, with its traceback as Dramatiq's Retries keeps it."""
    try:
        _raise(error)
    except BaseException as raised:
        return raised, traceback.format_exc(limit=30)
    raise AssertionError("not raised")


def _retried(error: BaseException, *, before: str | None, retries: int = 1) -> logging.LogRecord:
    """Dramatiq's line for ``error``, on a message whose last attempt failed with the traceback ``before``."""
    options = {} if before is None else {"retries": retries, "traceback": before}
    message = dramatiq.MessageProxy(
        dramatiq.Message(queue_name="documents", actor_name="add_member", args=(), kwargs={}, options=options)
    )
    record = logging.LogRecord(
        "dramatiq.worker.WorkerThread", logging.ERROR, __file__, 1, UNHANDLED, (message,), None
    )
    record.exc_info = (type(error), error, error.__traceback__)
    return record


# As psycopg's and SQLAlchemy's errors are: several lines.
DOWN = "connection refused\n\tIs the server running on that host?\n(Background on this error at: x)"


def test_a_fault_that_fails_each_retry_the_same_way_has_one_traceback_not_one_per_retry() -> None:
    first, first_traceback = _caught(RuntimeError(DOWN))
    again, _ = _caught(RuntimeError(DOWN))

    assert _ReplacedByOutcomeLines().filter(_retried(first, before=None))
    assert not _ReplacedByOutcomeLines().filter(_retried(again, before=first_traceback))


def test_a_fault_unlike_the_last_attempts_failure_keeps_its_traceback() -> None:
    _, disk_full = _caught(RuntimeError("the disk is full"))
    refused, _ = _caught(ConnectionError("connection refused"))
    elsewhere = KeyError("id")  # the same line as the last attempt's, raised at another place
    _, key_error_traceback = _caught(KeyError("id"))
    try:
        raise elsewhere
    except KeyError:
        pass

    assert _ReplacedByOutcomeLines().filter(_retried(refused, before=disk_full))
    assert _ReplacedByOutcomeLines().filter(_retried(elsewhere, before=key_error_traceback))


def test_a_traceback_a_producer_put_in_a_first_attempts_options_hides_nothing() -> None:
    error, formatted = _caught(RuntimeError(DOWN))

    assert _ReplacedByOutcomeLines().filter(_retried(error, before=formatted, retries=0))


@pytest.mark.parametrize(
    "line",
    [UNHANDLED, "Failed to post_process_message(%s) due to a connection error: %s\n"],
    ids=["a fault", "an ack on a lost connection"],
)
def test_dramatiqs_lines_kept_name_the_message_by_its_actor_and_id_alone(line: str) -> None:
    """Dramatiq renders a message with every argument: a document's name, its blob URI, its tags."""
    message = dramatiq.MessageProxy(
        dramatiq.Message(
            queue_name="documents",
            actor_name="upload_document",
            args=(),
            kwargs={"doc_id": "d1", "name": "Salaries 2025.pdf", "blob_uri": "s3://hr/salaries.pdf"},
            options={},
            message_id="m-1",
        )
    )
    args = (message,) if line.count("%s") == 1 else (message, "refused")
    record = logging.LogRecord("dramatiq.worker.WorkerThread", logging.ERROR, __file__, 1, line, args, None)
    error, _ = _caught(RuntimeError("the disk is full"))
    record.exc_info = (type(error), error, error.__traceback__)

    assert _ReplacedByOutcomeLines().filter(record)
    told = record.getMessage()
    assert "upload_document(message_id='m-1')" in told
    assert "Salaries" not in told
    assert "s3://" not in told


def _raised_through(path: int, error: BaseException) -> BaseException:
    """``error`` raised by ``_raise`` (one line), called from one of two places."""
    try:
        if path == 1:
            _raise(error)
        else:
            _raise(error)
    except BaseException as raised:
        return raised
    raise AssertionError("not raised")


def test_message_after_message_failing_the_same_way_logs_its_traceback_once_a_minute() -> None:
    """An outage fails each message at the first use of a connection, wherever that is: the first
    message's traceback says it, and each message's outcome lines say the rest."""
    now = [0.0]
    lines = _ReplacedByOutcomeLines(window_s=60.0, clock=lambda: now[0])

    assert lines.filter(_retried(_raised_through(1, RuntimeError(DOWN)), before=None))
    now[0] = 30.0
    assert not lines.filter(_retried(_raised_through(2, RuntimeError(DOWN)), before=None)), "another message"
    assert lines.filter(_retried(_raised_through(1, RuntimeError("the disk is full")), before=None))
    assert lines.filter(_record(UNHANDLED, RuntimeError(DOWN))), "the same text raised at another line"
    now[0] = 61.0
    assert lines.filter(_retried(_raised_through(2, RuntimeError(DOWN)), before=None)), "a minute on"
