"""Which failures are tried again, and how often: the ``retry_when`` every docfleet actor declares.

Dramatiq counts every retry of a message in one number, its ``retries`` option. docfleet gives a
NotFound and a fault budgets of their own, so the retries a message took after a NotFound are also kept
in its options (``NOT_FOUND_RETRIES_OPTION``, by ``CountNotFound``): a command held up by a Postgres
outage still gets its NotFound retries once Postgres is back, and the other way round.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq import Retry
from dramatiq.common import compute_backoff
from dramatiq.middleware import Middleware, Retries
from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF

from adapters.postgres.errors import WrittenConcurrently
from domain.errors import MessageIdReused, NotFound
from workers.contract import InvalidMessage
from workers.contract_json import EXACT_FLOAT_INTEGERS

NOT_FOUND_RETRIES_OPTION = "docfleet_not_found_retries"

# How many of the failing message's earlier retries followed a NotFound: set by CountNotFound just before
# Retries asks the policy, in the same worker thread; None where CountNotFound is not installed.
_not_found_before: ContextVar[int | None] = ContextVar("docfleet_not_found_before", default=None)

# Set by RetriesOrDeadLetter for each failed message, in the worker thread that runs the middleware next.
_retry_not_queued: ContextVar[BaseException | None] = ContextVar("docfleet_retry_not_queued", default=None)


@dataclass(frozen=True)
class RetryPolicy:
    """Never an invalid message, nor one under an id another command spent; a few quick tries for a
    NotFound; more for a fault (Postgres, Valkey or RabbitMQ unavailable, a time limit, an unexpected
    error), each kind counted on its own. Each retry waits on the actor's schedule: ``min_backoff``
    doubled per retry, jittered, capped at ``max_backoff``. When ``retry_when`` says no, Dramatiq's
    Retries middleware fails the message and the broker dead-letters it.
    """

    not_found_retries: int = 8
    fault_retries: int = 20

    def __call__(self, retries: int, exception: BaseException) -> bool:
        return self._retried(retries, exception.cause if isinstance(exception, _Delayed) else exception)

    def _retried(self, retries: int, exception: BaseException) -> bool:
        """``retries`` is how many times the message was retried, of any kind, before this failure. None
        past the largest count an envelope may carry (a producer may send any count up to it): the copy
        would carry one more, and be dead-lettered as unreadable instead of this failure's outcome."""
        if retries >= EXACT_FLOAT_INTEGERS:
            return False
        return self.retried_before(retries, exception, _not_found_before.get()) < self.limit_for(exception)

    @staticmethod
    def retried_before(retries: int, exception: BaseException, not_found: int | None) -> int:
        """The earlier retries of the failure's own kind; all of them when they were not told apart."""
        if not_found is None:
            return retries
        return not_found if isinstance(exception, NotFound) else retries - not_found

    def limit_for(self, exception: BaseException) -> int:
        if isinstance(exception, InvalidMessage | MessageIdReused):
            return 0
        return self.not_found_retries if isinstance(exception, NotFound) else self.fault_retries

    @property
    def max_retries(self) -> int:
        """The most retries a message can take in all."""
        return self.not_found_retries + self.fault_retries


class _Delayed(Retry):
    """A failure handed to Dramatiq's Retries with the delay of its own kind's schedule: Retries would
    compute it from every earlier retry, so that a NotFound after five faults waited the longest delay
    at each of its retries. ``RetryPolicy`` judges the ``cause``."""

    def __init__(self, cause: BaseException, delay: int) -> None:
        super().__init__(delay=delay)
        self.cause = cause


class RetriesOrDeadLetter(Retries):
    """Dramatiq's Retries, but a retry that cannot be queued fails the message.

    Retries queues the copy that will run again, and Dramatiq then acks the message. If queueing the copy
    raises (RabbitMQ refused or lost it), no copy exists, yet the message would still be acked as retried:
    lost. Failed instead, it is dead-lettered and can be replayed (docs/contract.md §8), as a fault
    whatever its failure was: a NotFound on its first try has not outlived its retries, and must not spend
    its message id on a rejection (``retry_not_queued`` tells ``Outcomes``). The error is raised on, for
    the broker to log.
    """

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        _retry_not_queued.set(None)
        given = exception if exception is None else self._on_its_own_schedule(broker, message, exception)
        try:
            super().after_process_message(broker, message, result=result, exception=given)  # type: ignore[no-untyped-call]
        except Exception as error:
            if exception is not None:
                message.fail()
                _retry_not_queued.set(error)
            raise

    def _on_its_own_schedule(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy, exception: BaseException
    ) -> BaseException:
        """``exception`` with the backoff of the retries of its own kind (``RetryPolicy.retried_before``):
        the actor's ``min_backoff`` doubled per such retry, jittered, capped at its ``max_backoff``."""
        actor = broker.get_actor(message.actor_name)
        throws = actor.options.get("throws") or ()
        if isinstance(exception, (Retry, *(throws if isinstance(throws, tuple) else (throws,)))):
            return exception  # a Retry's own delay; a failure Retries fails at once
        own = RetryPolicy.retried_before(
            message.options.get("retries", 0), exception, _not_found_before.get()
        )
        least = actor.options.get("min_backoff", self.min_backoff)
        most = min(actor.options.get("max_backoff", self.max_backoff), DEFAULT_MAX_BACKOFF)
        _, delay = compute_backoff(own, factor=least, max_backoff=most)
        return _Delayed(exception, delay)


def retry_not_queued() -> BaseException | None:
    """Why the retry of the message this thread just failed could not be queued, if that is why it failed:
    read by the middleware that runs after ``RetriesOrDeadLetter``, in the same thread."""
    return _retry_not_queued.get()


class CountNotFound(Middleware):
    """Keeps the count of a message's retries after a NotFound in its options, for ``RetryPolicy``.

    Registered after Dramatiq's Retries, so that its ``after_process_message`` runs just before Retries':
    the copy Retries enqueues carries the count on.
    """

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            return
        so_far = message.options.get(NOT_FOUND_RETRIES_OPTION, 0)
        _not_found_before.set(so_far)
        if isinstance(exception, NotFound):
            message.options[NOT_FOUND_RETRIES_OPTION] = so_far + 1


def failure_kind(exception: BaseException) -> str:
    """``invalid``, ``message_id_reused``, ``not_found``, ``concurrent_write`` or ``fault``: the words the
    outcome lines use. A concurrent write is retried as a fault is, but it is an expected race, not a
    failure of anything: another command wrote the same row first, and the retry decides again."""
    if isinstance(exception, InvalidMessage):
        return "invalid"
    if isinstance(exception, MessageIdReused):
        return exception.reason
    if isinstance(exception, WrittenConcurrently):
        return "concurrent_write"
    return "not_found" if isinstance(exception, NotFound) else "fault"
