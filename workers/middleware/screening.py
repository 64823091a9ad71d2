"""The consumer's screen of each delivery, before the workers see it: a body that is not a docfleet
envelope, an envelope on the wrong queue, a delay no retry waits, or an actor no worker has. Such a
delivery is dead-lettered by the consumer (``workers.consumer``) with its outcome line, and with its
CommandRejected where a message id and an actor could still be read.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import dramatiq
import structlog
from dramatiq.common import current_millis
from dramatiq.errors import DecodeError

from workers.contract import ACTOR_KWARGS, ids_in, queue_of
from workers.contract_fields import is_id
from workers.dead_letter_names import body_digest, digest_name
from workers.middleware.envelope import UnreadableMessage, oversize_problem

# Far above any actor's max_backoff (2 s), with room for workers' clocks a minute apart; no more, as a
# delay queue's consumer holds what it takes until due, and the retries behind wait for its slots.
MAX_RETRY_DELAY_MS = 60_000


class RejectUnreadable(Protocol):
    """Records a CommandRejected for a message, naming what ``ids`` (its well-formed ids) hold of those a
    rejection names; says whether it was recorded."""

    def __call__(self, message_id: str, actor: str, detail: str, ids: Mapping[str, str]) -> str | None: ...


@dataclass(frozen=True)
class Unadmitted:
    """A delivery that may not go to the workers: why, and what of its envelope could still be read."""

    queue: str
    size: int
    problems: list[str]
    message_id: str | None = None
    actor: str | None = None
    ids: dict[str, str] | None = None  # the well-formed ids among its arguments, for its rejection
    line: str = "unreadable message dead-lettered"
    dead_letter: str | None = None  # without a message id: what ``docfleet dlq show`` takes for it
    amqp_message_id: str | None = None  # without one: the id its AMQP property gave, if an id, to trace it

    def record(self, reject: RejectUnreadable | None) -> str | None:
        """Has ``reject`` record the rejection where a message id and an actor are known; what it said."""
        if reject is None or self.message_id is None or self.actor is None:
            return None
        return reject(self.message_id, self.actor, "; ".join(self.problems), self.ids or {})

    def tell(self, rejection: str | None) -> None:
        """The delivery's one outcome line."""
        structlog.get_logger("docfleet.worker").warning(
            self.line,
            outcome="invalid",
            message_id=self.message_id,
            actor=self.actor,
            queue=self.queue,
            size=self.size,
            problems=self.problems,
            rejection=rejection,
            **({} if self.dead_letter is None else {"dead_letter": self.dead_letter}),
            **({} if self.amqp_message_id is None else {"amqp_message_id": self.amqp_message_id}),
        )


def screen(body: bytes, consumed_from: str, declared: Container[str] = ()) -> Unadmitted | None:
    """None if a delivery may go to the workers; else why not. Records and logs nothing. An actor neither
    of the contract nor among ``declared`` (the broker's own) is one no worker has: its message is invalid."""
    unadmitted = _screened(body, consumed_from, declared)
    if unadmitted is None or unadmitted.message_id is not None:
        return unadmitted
    return replace(unadmitted, dead_letter=digest_name(body_digest(body)))


def traced_by_property(unadmitted: Unadmitted, properties: Any) -> Unadmitted:
    """A delivery whose body names no message id, with the one its AMQP ``message_id`` property gives, if
    that is an id: the producer's only handle on it (contract §4). Never used as the message's id."""
    sent_as = getattr(properties, "message_id", None)
    if unadmitted.message_id is not None or not is_id(sent_as):
        return unadmitted
    return replace(unadmitted, amqp_message_id=sent_as)


def _screened(body: bytes, consumed_from: str, declared: Container[str]) -> Unadmitted | None:
    try:
        message = dramatiq.Message.decode(body)
    except DecodeError as error:
        cause = error.error
        if isinstance(cause, UnreadableMessage):
            read = (cause.message_id, cause.actor, cause.ids)
            return Unadmitted(consumed_from, len(body), cause.problems, *read)
        return Unadmitted(consumed_from, len(body), [f"body: {type(cause).__name__}"])
    problem, line = _misrouted(message, consumed_from), "unreadable message dead-lettered"
    if message.actor_name not in ACTOR_KWARGS and message.actor_name not in declared:
        problem = f"actor: there is no actor named {message.actor_name!r}"
        line = "invalid message dead-lettered"
    if problem is None:
        return None
    known = (message.message_id, message.actor_name, ids_in(message.kwargs))
    return Unadmitted(consumed_from, len(body), [problem], *known, line=line)


def _misrouted(message: dramatiq.Message[Any], consumed_from: str) -> str | None:
    """What is wrong with the queue a readable envelope came from, or with its delay, if anything.

    Dramatiq acks a message on the channel of the queue its envelope names, and holds one with an
    ``eta`` unacked until then: either, on the wrong queue, would keep a prefetch slot for good.
    """
    if message.queue_name != consumed_from:
        return f"queue_name: is {message.queue_name!r} but the message came from {consumed_from!r}"
    return (
        misplaced_actor(message.actor_name, consumed_from)
        or _bad_delay(message.options.get("eta"), consumed_from)
        or _not_a_retry(message.options, consumed_from)
    )


def misplaced_actor(actor: str, queue: str) -> str | None:
    """What is wrong, if anything, with a message of ``actor`` on ``queue`` (or its delay queue)."""
    home, arrived_on = queue_of(actor), queue.removesuffix(".DQ")
    if actor in ACTOR_KWARGS and home != arrived_on:
        return f"actor: {actor} is consumed from {home!r}, not {arrived_on!r}"
    return None


def _bad_delay(eta: int | None, consumed_from: str) -> str | None:
    if eta is None:
        return None
    if not consumed_from.endswith(".DQ"):
        return "options.eta: only a retry waiting on a .DQ queue has one"
    if eta > current_millis() + MAX_RETRY_DELAY_MS:
        seconds = MAX_RETRY_DELAY_MS // 1_000
        return f"options.eta: more than {seconds} seconds ahead, longer than any retry waits"
    return None


def _not_a_retry(options: dict[str, Any], consumed_from: str) -> str | None:
    """A delay queue's messages are held in the worker's memory until due: only docfleet's retries, which
    count at least one, belong there (contract §1), and none is over the size limit (such a message is
    dead-lettered, never retried)."""
    if not consumed_from.endswith(".DQ"):
        return None
    if options.get("retries", 0) < 1:
        return f"options.retries: only a retry (retries 1 or more) may wait on {consumed_from!r}"
    return oversize_problem(options)
