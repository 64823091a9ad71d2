"""What a dead letter is, why it died, and whether it can be replayed as it is.

The reason comes, in this order, from: the body itself when it is not a readable envelope; the
CommandRejected recorded for its message id, when it is of the letter's actor (invalid, not_found after its
retries, ...); the contract's own validation, run again here (an invalid query records nothing); the
redeliveries the workers counted, past their limit; the fingerprint the inbox keeps of the command that
spent its id, when the letter's is another's; the traceback Dramatiq kept in ``options`` for a message that
was retried (a fault); otherwise it is unknown here, and the worker's log line for the message id tells it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dramatiq.common import current_millis

from adapters.postgres.rejections import RecordedRejection
from adapters.rabbitmq.dead_letters import DeadLetter, Relocation
from domain.commands import ListFolderDocuments, fingerprint
from workers.cli import dead_letter_reasons as reasons
from workers.contract import COMMANDS_QUEUE, QUERIES_QUEUE, InvalidMessage, parse
from workers.dead_letter_names import body_digest, digest_name
from workers.middleware.envelope import (
    OVERSIZE_OPTION,
    EnvelopeEncoder,
    UnreadableMessage,
    oversize_problem,
)
from workers.middleware.screening import misplaced_actor

ORIGINS = {f"{queue}.XQ": queue for queue in (COMMANDS_QUEUE, QUERIES_QUEUE)}
"""Each dead-letter queue and the queue its messages came from (Dramatiq's ``<queue>.XQ``)."""


@dataclass(frozen=True)
class IdHistory:
    """What Postgres knows of a message id."""

    used: bool = False  # it has an inbox row: sent again under it, a message is not run as it is
    rejection: RecordedRejection | None = None  # the latest CommandRejected recorded for it
    spent_by: str | None = None  # the fingerprint of the command that spent it, where the inbox keeps one
    dead_lettered: bool = False  # spent by a rejection as invalid or not found, which dead-lettered it
    unknown: bool = False  # Postgres could not be asked: answered as unused, it may have been used

    def spent_by_another(self, command: str | None) -> bool:
        """Whether the inbox keeps, as the command that spent the id, one other than ``command``."""
        return None not in (command, self.spent_by) and command != self.spent_by

    def ran(self, command: str | None) -> bool:
        """Whether ``command`` spent the id by running, not by a rejection that dead-lettered it."""
        return command is not None and command == self.spent_by and not self.dead_lettered


History = Callable[[str], IdHistory]

# The namespace of the ids ``dlq replay --new-id`` gives: a uuid5 of the old id (and of the command, for
# a command that another command's outcome under the same id kept from running).
_RENEWED_IDS = uuid.UUID("5d0c1f4e-6a53-4bd8-9a1e-2f7c0b9e8d41")

Redeliveries = Callable[[str], int]
"""For a message id: how many times the workers counted it delivered again after its worker stopped."""


@dataclass(frozen=True)
class Inspected:
    queue: str
    message_id: str | None
    actor: str | None
    retries: int
    died_at: datetime | None
    reason: str
    replay: Relocation | None
    not_replayable: str | None
    envelope: dict[str, Any] | None
    # Valid as it is, never run, its id spent (by its rejection as not found after its retries, or by
    # another command's outcome under the same id): the id it may go back under.
    new_id: str | None = None
    body_sha256: str = ""  # names it to ``dlq show`` and ``dlq purge`` (``workers.cli.letter_names``)
    id_unknown: bool = False  # whether its id was used could not be asked (``IdHistory.unknown``)
    # The AMQP ``message_id`` property it was last published with: its producer's own id for a letter
    # never retried, which names it where the body cannot (contract §4, unreadable messages).
    amqp_message_id: str | None = None

    @property
    def name(self) -> str:
        """What ``dlq ls`` shows it as: its message id, else ``sha256:`` and its body's digest's start."""
        return self.message_id if self.message_id is not None else digest_name(self.body_sha256)

    @property
    def replayable(self) -> bool | None:
        """Whether ``dlq replay`` puts it back as it is; None where whether its id was used could not be
        told (``dlq show``'s ``replayable``)."""
        if self.replay is None:
            return False
        return None if self.id_unknown else True

    def replay_word(self) -> str:
        """How it may go back, in a word for ``dlq ls``: ``yes``, ``--new-id``, ``no``, or ``unknown``."""
        if self.replay is not None:
            return "unknown" if self.replayable is None else "yes"
        return "--new-id" if self.new_id is not None else "no"

    def under_a_new_id(self) -> Relocation | None:
        """The message as first sent but under ``new_id``, now, if it has one.

        The new id is derived from the old one (and from the command, where another command spent the
        old one), so that a second run after a replay whose removal of the letter was lost sends a
        duplicate, not a second command, and two commands sent under one id get two new ones."""
        if self.new_id is None or self.envelope is None:
            return None
        renewed = {**self.envelope, "message_id": self.new_id, "message_timestamp": current_millis()}
        return _replay_copy(renewed, ORIGINS[self.queue])

    def summary(self) -> dict[str, Any]:
        fields: tuple[str, ...] = ("queue", "message_id", "actor", "retries", "died_at", "reason")
        fields += ("not_replayable", "new_id", "body_sha256", "amqp_message_id")
        return {name: getattr(self, name) for name in fields}


def inspect(
    letter: DeadLetter,
    history: History,
    redeliveries: Redeliveries = lambda _: 0,
    answer_ttl_ms: int | None = None,
) -> Inspected:
    """``answer_ttl_ms``: how long the workers keep a query's answer (``RESULT_TTL_MS``), past which a
    query replayed is not run; None: not judged."""
    envelope, unreadable, message_id, actor = _read(letter)
    known = _id_history(letter.queue, message_id, history)
    invalid, command = _judged(envelope, letter.queue) if envelope is not None else (None, None)
    options = envelope["options"] if envelope is not None else {}
    own = _own_rejection(known, command, actor)
    reason = (
        unreadable
        or reasons.recorded(own)
        or invalid
        or reasons.not_taken(letter)
        or (reasons.redelivered(redeliveries(message_id)) if message_id is not None else None)
        or (reasons.message_id_reused(actor) if known.spent_by_another(command) else None)
        or reasons.fault(options)
        or "unknown: see the worker's log"
    )
    blocked = unreadable or (f"message id already used ({reason})" if known.used else None) or invalid
    new_id = _new_id(message_id, command, known, own) if blocked and command else None
    not_replayable = f"{blocked}: {reasons.advice(new_id, known.ran(command))}" if blocked else None
    if not blocked and envelope is not None:
        blocked = not_replayable = _expired_query(envelope, letter.queue, answer_ttl_ms)
    return Inspected(
        queue=letter.queue,
        message_id=message_id,
        actor=actor,
        retries=int(options.get("retries", 0)),
        died_at=letter.died_at,
        reason=reason,
        replay=None if blocked or envelope is None else _replay_copy(envelope, ORIGINS[letter.queue]),
        not_replayable=not_replayable,
        envelope=None if envelope is None else _as_sent(envelope),
        new_id=new_id,
        body_sha256=body_digest(letter.body),
        id_unknown=known.unknown,
        amqp_message_id=letter.amqp_message_id,
    )


def _expired_query(envelope: dict[str, Any], queue: str, answer_ttl_ms: int | None) -> str | None:
    """Why a query letter would not run if replayed: it keeps the time it was first sent, and the workers
    do not run a query older than its answer is kept (contract §5)."""
    if answer_ttl_ms is None or ORIGINS.get(queue) != QUERIES_QUEUE:
        return None
    age_ms = current_millis() - envelope["message_timestamp"]
    if age_ms <= answer_ttl_ms:
        return None
    kept = f"{answer_ttl_ms / 1000:g} s, RESULT_TTL_MS"
    return (
        f"expired: sent {age_ms / 1000:.0f} s ago, longer than its answer is kept ({kept}):"
        " replayed, it would not run; send the query again"
    )


def _id_history(queue: str, message_id: str | None, history: History) -> IdHistory:
    # A query is never deduplicated (contract §5): what a command's outcome left under its id says nothing.
    asked = message_id is not None and ORIGINS.get(queue) == COMMANDS_QUEUE
    return history(message_id) if asked and message_id is not None else IdHistory()


def _own_rejection(known: IdHistory, command: str | None, actor: str | None) -> RecordedRejection | None:
    """The recorded rejection, if it can be this letter's: of its actor, and not the one of a message
    that another command's outcome kept from running (told by the fingerprints instead)."""
    rejection = None if known.spent_by_another(command) else known.rejection
    if rejection is None or rejection.actor != actor or rejection.reason == "message_id_reused":
        return None
    return rejection


def _new_id(
    message_id: str | None, command: str, known: IdHistory, own: RecordedRejection | None
) -> str | None:
    """The id a command whose own work never happened goes back under; None for one that ran.

    Where the inbox keeps the fingerprint of the command that spent the id, it tells: another command
    (whose outcome kept this one from running), or this one, which ran unless a rejection as not found
    spent the id. Otherwise only a rejection of this very actor as not found says so: an applied command
    has an inbox row too."""
    if message_id is None:
        return None
    if known.spent_by is not None and known.spent_by != command:
        return str(uuid.uuid5(_RENEWED_IDS, f"{message_id}\n{command}"))
    not_found = (
        known.dead_lettered if known.spent_by is not None else own is not None and own.reason == "not_found"
    )
    return str(uuid.uuid5(_RENEWED_IDS, message_id)) if not_found else None


Read = tuple[dict[str, Any] | None, str | None, str | None, str | None]


def _read(letter: DeadLetter) -> Read:
    """The envelope (None if unreadable), why it is unreadable, and its message id and actor where they
    can be read."""
    try:
        envelope = dict(EnvelopeEncoder().decode(letter.body))
    except UnreadableMessage as error:
        return None, "unreadable: " + "; ".join(error.problems), error.message_id, error.actor
    message_id, actor = envelope["message_id"], envelope["actor_name"]
    origin = ORIGINS.get(letter.queue)
    if origin is None or envelope["queue_name"].removesuffix(".DQ") != origin:
        problem = f"unreadable: queue_name is {envelope['queue_name']!r} but it died in {letter.queue!r}"
        return None, problem, message_id, actor
    misplaced = misplaced_actor(actor, origin)
    if misplaced is not None:  # the workers would dead-letter it again at once
        return None, f"unreadable: {misplaced}", message_id, actor
    return envelope, None, message_id, actor


def _as_sent(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope without the decoder's mark of a body over the limit, which the message never held."""
    options = {name: value for name, value in envelope["options"].items() if name != OVERSIZE_OPTION}
    return {**envelope, "options": options}


def _judged(envelope: dict[str, Any], queue: str) -> tuple[str | None, str | None]:
    """What makes the workers refuse it as invalid, if anything (its size, then its arguments); else the
    fingerprint of a command's letter, as the workers keep it (None for a query's)."""
    oversize = oversize_problem(envelope["options"])
    if oversize is not None:
        return f"invalid: {oversize}", None
    try:
        parsed = parse(envelope["actor_name"], envelope["args"], envelope["kwargs"])
    except InvalidMessage as invalid:
        return "invalid: " + "; ".join(invalid.problems), None
    if ORIGINS[queue] != COMMANDS_QUEUE or isinstance(parsed, ListFolderDocuments):
        return None, None
    return None, fingerprint(parsed)


def _replay_copy(envelope: dict[str, Any], origin: str) -> Relocation:
    """The message as first sent: same message id, its original queue, no retry bookkeeping."""
    copy = {**envelope, "queue_name": origin, "options": {}}
    return Relocation(
        queue=origin, body=json.dumps(copy, separators=(",", ":")).encode(), message_id=copy["message_id"]
    )
