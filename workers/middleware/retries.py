"""Which failures are tried again, and how often: the ``retry_when`` every docfleet actor declares."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import NotFound
from workers.contract import InvalidMessage


@dataclass(frozen=True)
class RetryPolicy:
    """Never an invalid message; a few quick tries for a NotFound; more for a fault (Postgres, Valkey or
    RabbitMQ unavailable, a time limit, an unexpected error). Each retry waits on the actor's schedule:
    ``min_backoff`` doubled per retry, jittered, capped at ``max_backoff``. When ``retry_when`` says no,
    Dramatiq's Retries middleware fails the message and the broker dead-letters it.
    """

    not_found_retries: int = 8
    fault_retries: int = 20

    def __call__(self, retries: int, exception: BaseException) -> bool:
        """``retries`` is how many times the message was retried before this failure."""
        return retries < self.limit_for(exception)

    def limit_for(self, exception: BaseException) -> int:
        if isinstance(exception, InvalidMessage):
            return 0
        return self.not_found_retries if isinstance(exception, NotFound) else self.fault_retries

    @property
    def max_retries(self) -> int:
        return max(self.not_found_retries, self.fault_retries)


def failure_kind(exception: BaseException) -> str:
    """``invalid``, ``not_found`` or ``fault``: the words the outcome lines use."""
    if isinstance(exception, InvalidMessage):
        return "invalid"
    return "not_found" if isinstance(exception, NotFound) else "fault"
