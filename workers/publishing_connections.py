"""A worker process's one publishing connection (Dramatiq's, for retries), shared by its threads, and
made anew once it has idled.

Dramatiq keeps one RabbitMQ connection per thread for publishing: a worker process whose retries reached
every thread held one per thread, for its life (37 a process at 32 threads, beside its consumers'), which
a managed RabbitMQ counts against its plan's limit. Its threads now take turns on one: a retry is rare,
and its publish takes a confirm's round trip. A thread waits for its turn no longer than Dramatiq would
try a publish blocked by a resource alarm (each attempt within ``blocked_connection_timeout``), then
fails the publish as Dramatiq does when its attempts are spent, and the retry's message is dead-lettered
(``RetriesOrDeadLetter``).

A connection that publishes now and then answers no heartbeat in between: RabbitMQ drops it after two
missed ones, and the next retry's publish meets a reset socket, which pika logs as three errors with a
traceback before Dramatiq connects again. A connection left unused for a heartbeat interval is closed,
without those lines, and made anew before the publish; the connection closed at shutdown, often dropped
by then for the same reason, is closed without them too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import MAX_ENQUEUE_ATTEMPTS
from dramatiq.errors import ConnectionClosed

from workers.logging import library_lines_quieted


class _OneForEveryThread:
    """Stands in for Dramatiq's ``threading.local`` state: one connection and channel for every thread."""


class SharedPublishingConnection:
    """For a ``RabbitmqBroker`` subclass, before it in the bases."""

    state: Any
    parameters: Any
    queues_pending: set[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = _OneForEveryThread()
        self._turn = threading.RLock()  # reentrant: Dramatiq's enqueue declares its queue first
        blocked = blocked_timeout_of(self.parameters)
        self._patience = MAX_ENQUEUE_ATTEMPTS * blocked if blocked > 0 else -1.0  # -1: as long as it takes

    @contextmanager
    def _taking_turns(self, what: str) -> Iterator[None]:
        if not self._turn.acquire(timeout=self._patience):
            raise ConnectionClosed(  # type: ignore[no-untyped-call]
                RuntimeError(f"the publishing connection stayed busy for {self._patience:.0f} s: {what}")
            )
        try:
            yield
        finally:
            self._turn.release()

    def _ensure_queue(self, canonical_queue_name: str) -> None:
        """Dramatiq's, which declares a queue not declared yet, in turn; a queue declared already costs no
        turn, so that a consumer restarting does not wait on a publish an alarm holds."""
        if canonical_queue_name not in self.queues_pending:  # looked at again in turn, by Dramatiq's
            return
        with self._taking_turns(f"declaring {canonical_queue_name}"):
            self._renew_if_idle()
            try:
                super()._ensure_queue(canonical_queue_name)  # type: ignore[misc]
            finally:
                self.state.docfleet_used_at = time.monotonic()

    def enqueue(self, message: dramatiq.Message[Any], *, delay: int | None = None) -> dramatiq.Message[Any]:
        with self._taking_turns(f"publishing message {message.message_id}"):
            self._renew_if_idle()
            try:
                return super().enqueue(message, delay=delay)  # type: ignore[misc, no-any-return]
            finally:
                self.state.docfleet_used_at = time.monotonic()

    def _renew_if_idle(self) -> None:
        if getattr(self.state, "connection", None) is not None and self._idled_too_long():
            with library_lines_quieted():
                del self.connection  # type: ignore[attr-defined]  # Dramatiq's: closes it, and its channel

    def get_queue_message_counts(self, queue_name: str) -> tuple[int, int, int]:
        with self._taking_turns(f"counting {queue_name}"):
            return super().get_queue_message_counts(queue_name)  # type: ignore[misc, no-any-return]

    def flush(self, queue_name: str) -> None:
        with self._taking_turns(f"purging {queue_name}"):
            super().flush(queue_name)  # type: ignore[misc]

    def close(self) -> None:
        # Not in turn: a shutdown does not wait out a publish blocked by an alarm (Dramatiq's neither).
        with library_lines_quieted():
            super().close()  # type: ignore[misc]

    def _idled_too_long(self) -> bool:
        """A connection of unknown age (opened some other way) counts as idle too long."""
        used_at = getattr(self.state, "docfleet_used_at", None)
        limit = heartbeat_of(self.parameters)
        return used_at is None or (limit > 0 and time.monotonic() - used_at > limit)


def heartbeat_of(parameters: Any) -> float:
    """The shortest heartbeat of the connection parameters (a list when the URL names several hosts);
    0 if none is set."""
    given = parameters if isinstance(parameters, list) else [parameters]
    beats = (getattr(each, "heartbeat", None) for each in given)  # None: the server's, or a callable
    return min((beat for beat in beats if isinstance(beat, int | float) and beat > 0), default=0)


def blocked_timeout_of(parameters: Any) -> float:
    """The longest ``blocked_connection_timeout`` of the connection parameters; 0 if one has none (a
    publish blocked by an alarm then waits for as long as it lasts)."""
    given = parameters if isinstance(parameters, list) else [parameters]
    timeouts: list[float] = []
    for each in given:
        timeout = getattr(each, "blocked_connection_timeout", None)
        if not isinstance(timeout, int | float) or timeout <= 0:
            return 0.0
        timeouts.append(float(timeout))
    return max(timeouts, default=0.0)
