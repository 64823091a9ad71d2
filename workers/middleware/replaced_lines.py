"""Dramatiq's own log lines about what an outcome line already says, dropped (``workers.middleware.outcomes``
writes the outcome lines); the lines kept name a message by its actor and id alone."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence

import dramatiq

from adapters.postgres.errors import WrittenConcurrently
from domain.errors import NotFound

_REPLACED = frozenset(
    {
        "Failed to process message %s with expected exception %s.",  # an invalid message
        "Message %s was skipped.",  # an oversized message
        "Aborting message %r.",
        "Retrying message %r in %d milliseconds.",
        "Retries exceeded for message %r.",
        "Received message for undefined actor %r. Moving it to the DLQ.",
    }
)
_UNHANDLED = "Failed to process message %s with unhandled exception."


class _ReplacedByOutcomeLines(logging.Filter):
    """Drops Dramatiq's own lines about what an outcome line already says. A NotFound, or a row another
    message wrote first, is expected: its traceback is not logged either, the outcome line ("retrying")
    says what happened. A fault's traceback is logged once, not at each of its 20 retries: again only
    when the failure changes. The lines kept name a message by its actor and id alone: Dramatiq's own
    rendering repeats every argument, a document's name and blob URI included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in _REPLACED:
            return False
        if record.msg == _UNHANDLED:
            exception = record.exc_info[1] if record.exc_info else None
            if isinstance(exception, NotFound | WrittenConcurrently) or _as_before(record, exception):
                return False
        _name_messages_only(record)
        return True


def _name_messages_only(record: logging.LogRecord) -> None:
    if isinstance(record.args, tuple) and any(isinstance(arg, _MESSAGES) for arg in record.args):
        record.args = tuple(
            f"{arg.actor_name}(message_id={arg.message_id!r})" if isinstance(arg, _MESSAGES) else arg
            for arg in record.args
        )


_MESSAGES = (dramatiq.Message, dramatiq.MessageProxy)


def _as_before(record: logging.LogRecord, exception: BaseException | None) -> bool:
    """Whether the message's last attempt failed the same way, at the same place: Dramatiq's Retries
    keeps that attempt's traceback in the message's options, formatted as here (30 frames)."""
    message = record.args[0] if isinstance(record.args, tuple) and record.args else None
    options = getattr(message, "options", None)
    if exception is None or not isinstance(options, dict) or not options.get("retries"):
        return False  # a first attempt: a traceback in its options is a producer's, not Dramatiq's
    before = options.get("traceback")
    formatted = traceback.format_exception(type(exception), exception, exception.__traceback__, limit=30)
    return isinstance(before, str) and before == "".join(formatted)


def quiet_replaced_lines(queues: Sequence[str]) -> None:
    """Installs the filter on the Dramatiq loggers concerned (idempotent)."""
    names = ["dramatiq.worker.WorkerThread", "dramatiq.middleware.retries.RetriesOrDeadLetter"]
    names += [f"dramatiq.worker.ConsumerThread({queue}{dq})" for queue in queues for dq in ("", ".DQ")]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _ReplacedByOutcomeLines) for existing in logger.filters):
            logger.addFilter(_ReplacedByOutcomeLines())
