"""One outcome line per message, and the CommandRejected events of messages that will never be applied.

Outcomes: applied, duplicate, refused (with reason), answered (a query), expired (a query nobody waits
for any more, not run), invalid → dead-lettered, retrying, dead-lettered after retries. A rejection
event is committed, with the message's inbox row, for an invalid command, an unknown actor and a
NotFound that outlived its retries (and, by the Application, for a message under an id that another
command spent); a query writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from domain.commands import Command
from domain.errors import MessageIdReused, NotFound
from domain.use_cases.dispatch import rejection
from workers.background import Job, OneThreadInBackground
from workers.contract import QUERIES, command_or_none, ids_in, rejection_ids
from workers.middleware.resources import Resources
from workers.middleware.retries import failure_kind, retry_not_queued
from workers.named_logger import NamedLogger

MAX_DETAIL = 2000
_EXPECTED_RETRIES = frozenset({"not_found", "concurrent_write"})  # retried at info: nothing failed


@dataclass(frozen=True)
class _Noted:
    outcome: str
    fields: dict[str, Any]


_noted: ContextVar[_Noted | None] = ContextVar("docfleet_outcome", default=None)


def note_outcome(outcome: str, **fields: Any) -> None:
    """Called by an actor before it returns: what became of the message (applied, refused, ...) and why."""
    _noted.set(_Noted(outcome, fields))


_log = NamedLogger("docfleet.worker")


class Outcomes(Middleware):
    """Runs after Dramatiq's Retries (it is registered before it), so it knows whether a message retries."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._background = OneThreadInBackground("docfleet-rejections")

    def later(self, job: Job) -> None:
        """Runs ``job`` on this process's rejections thread: for the consumer's thread, which must not
        wait on Postgres (``OneThreadInBackground``)."""
        self._background.submit(job)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        _noted.set(None)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            self._completed(message)
        elif failure_kind(exception) == "invalid":
            self.invalid(message, getattr(exception, "problems", (str(exception),)))
        elif message.failed:
            self._gave_up(message, exception)
        else:
            self._retrying(message, exception)

    def before_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        """An unknown actor's message that no screening caught (docfleet's consumer screens them first,
        off its thread: ``workers.consumer``)."""
        if message.actor_name not in broker.actors:
            self.invalid(message, [f"actor: there is no actor named {message.actor_name!r}"])

    def invalid(self, message: dramatiq.MessageProxy, problems: Sequence[str]) -> None:
        """Logs the one line of an invalid message and records its rejection (commands only)."""
        recorded = None
        if message.actor_name not in QUERIES:
            recorded = self._reject(message, "invalid", "; ".join(problems))
        _log().warning(
            "invalid message dead-lettered",
            outcome="invalid",
            message_id=message.message_id,
            actor=message.actor_name,
            queue=message.queue_name,
            problems=list(problems),
            rejection=recorded,
        )

    def reject_unreadable(
        self, message_id: str, actor: str, detail: str, ids: Mapping[str, str]
    ) -> str | None:
        """Rejects an envelope the consumer dead-lettered before a worker saw it (commands only), naming
        what ``ids``, its well-formed ids, hold."""
        if actor in QUERIES:
            return None
        return self._record(message_id, actor, "invalid", detail, ids)

    def _completed(self, message: dramatiq.MessageProxy) -> None:
        noted = _noted.get() or _Noted("completed", {})
        _log().info(
            noted.outcome,
            outcome=noted.outcome,
            message_id=message.message_id,
            actor=message.actor_name,
            **noted.fields,
        )

    def _retrying(self, message: dramatiq.MessageProxy, exception: BaseException) -> None:
        kind = failure_kind(exception)
        _log().log(
            logging.INFO if kind in _EXPECTED_RETRIES else logging.WARNING,
            "retrying",
            outcome="retrying",
            message_id=message.message_id,
            actor=message.actor_name,
            reason=kind,
            attempt=message.options.get("retries", 0),
            detail=_detail(exception),
        )

    def _gave_up(self, message: dramatiq.MessageProxy, exception: BaseException) -> None:
        event, kind, detail = "dead-lettered after retries", failure_kind(exception), _detail(exception)
        recorded = None
        not_queued = retry_not_queued()
        if not_queued is not None:  # a fault, with nothing recorded: ``docfleet dlq replay`` can run it again
            event, kind = "dead-lettered: its retry could not be queued", "fault"
            detail = f"retry not queued: {_detail(not_queued)}; after {detail}"[:MAX_DETAIL]
        elif isinstance(exception, MessageIdReused):  # its rejection recorded before it was raised
            event, detail, recorded = (
                "dead-lettered: its message id was spent by another command",
                str(exception),
                exception.rejection,
            )
        elif isinstance(exception, NotFound) and message.actor_name not in QUERIES:
            found = {"org_id": exception.org_id, "doc_id": exception.document_id}
            command = command_or_none(message.actor_name, message.args, message.kwargs)
            recorded = self._reject(message, "not_found", exception.message, command=command, **found)
        _log().error(
            event,
            outcome="dead_lettered",
            message_id=message.message_id,
            actor=message.actor_name,
            reason=kind,
            attempt=message.options.get("retries", 0),
            detail=detail,
            rejection=recorded,
        )

    def _reject(
        self,
        message: dramatiq.MessageProxy,
        reason: str,
        detail: str,
        command: Command | None = None,
        **found: str | None,
    ) -> str:
        """``found``: what the failure itself names (a document's organization), laid over the ids of the
        message's own that its actor takes."""
        own = ids_in(message.kwargs)
        return self._record(message.message_id, message.actor_name, reason, detail, own, command, found)

    def _record(
        self,
        message_id: str,
        actor: str,
        reason: str,
        detail: str,
        ids: Mapping[str, str],
        command: Command | None = None,
        found: Mapping[str, str | None] | None = None,
    ) -> str:
        """Commits the CommandRejected, naming the ids it names that ``ids`` holds, and what the failure
        ``found`` (its inbox row keeping the fingerprint of ``command``, if given); says whether it was
        recorded, already there, or not recorded."""
        named = rejection_ids(actor, ids, found)
        event = rejection(command, message_id, actor, reason, detail[:MAX_DETAIL], **named)
        try:
            outcome = self._resources.application().reject(event, command)
        except Exception as error:
            _log().error("rejection not recorded", message_id=message_id, error=repr(error)[:300])
            return "failed"
        return "duplicate" if outcome == "duplicate" else "recorded"


def _detail(exception: BaseException) -> str:
    return f"{type(exception).__name__}: {exception}"[:MAX_DETAIL]
