"""Dramatiq's own log lines about what an outcome line already says, dropped (``workers.middleware.outcomes``
writes the outcome lines); the lines kept name a message by its actor and id alone."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence

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
REPEATED_FAULT_WINDOW_S = 60.0


class _RecentFaults:
    """The faults whose traceback this process logged lately, each by what failed and the line that
    raised it (not the path there: an outage fails every message at the first use of its connection,
    from wherever that is). Thread-safe."""

    _KEPT = 256  # distinct faults remembered at most; forgetting one only logs it again

    def __init__(self, window_s: float, clock: Callable[[], float]) -> None:
        self._window_s, self._clock = window_s, clock
        self._lock = threading.Lock()
        self._logged: dict[tuple[str, ...], float] = {}

    def logged_lately(self, exception: BaseException) -> bool:
        """Whether the same fault was logged within the window; notes it as logged now if not."""
        fault = _fault_of(exception)
        now = self._clock()
        with self._lock:
            last = self._logged.get(fault)
            if last is not None and now - last < self._window_s:
                return True
            if len(self._logged) >= self._KEPT:
                self._logged.clear()
            self._logged[fault] = now
            return False


def _fault_of(exception: BaseException) -> tuple[str, ...]:
    frames = traceback.extract_tb(exception.__traceback__)
    raised_at = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return (*traceback.format_exception_only(type(exception), exception), raised_at)


class _ReplacedByOutcomeLines(logging.Filter):
    """Drops Dramatiq's own lines about what an outcome line already says. A NotFound, or a row another
    message wrote first, is expected: its traceback is not logged either, the outcome line ("retrying")
    says what happened. A fault's traceback is logged once, not at each of its 20 retries: again only
    when the failure changes; and once a minute in a process where message after message fails the
    same way (an outage). The lines kept name a message by its actor and id alone: Dramatiq's own
    rendering repeats every argument, a document's name and blob URI included."""

    def __init__(
        self, window_s: float = REPEATED_FAULT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._recent = _RecentFaults(window_s, clock)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in _REPLACED:
            return False
        if record.msg == _UNHANDLED:
            exception = record.exc_info[1] if record.exc_info else None
            if isinstance(exception, NotFound | WrittenConcurrently) or _as_before(record, exception):
                return False
            if exception is not None and self._recent.logged_lately(exception):
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
