"""Each worker thread's publishing connection (Dramatiq's, for retries), made anew once it has idled.

Dramatiq keeps one RabbitMQ connection per thread for publishing. A thread that publishes now and then
(a retry) answers no heartbeat in between: RabbitMQ drops the connection after two missed ones, and the
next retry's publish meets a reset socket, which pika logs as three errors with a traceback before
Dramatiq connects again. A connection left unused for a heartbeat interval is closed, without those
lines, and made anew before the publish; the connections closed at shutdown, often dropped by then for
the same reason, are closed without them too.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import dramatiq

from workers.logging import library_lines_quieted


class FreshPublishingConnections:
    """For a ``RabbitmqBroker`` subclass, before it in the bases."""

    state: threading.local
    parameters: Any

    def declare_queue(self, queue_name: str, *, ensure: bool = False) -> None:
        super().declare_queue(queue_name, ensure=ensure)  # type: ignore[misc]
        if ensure:  # a consumer's start opens its thread's connection to declare its queues
            self.state.docfleet_used_at = time.monotonic()

    def enqueue(self, message: dramatiq.Message[Any], *, delay: int | None = None) -> dramatiq.Message[Any]:
        if getattr(self.state, "connection", None) is not None and self._idled_too_long():
            with library_lines_quieted():
                del self.connection  # type: ignore[attr-defined]  # Dramatiq's: closes it, and its channel
        try:
            return super().enqueue(message, delay=delay)  # type: ignore[misc, no-any-return]
        finally:
            self.state.docfleet_used_at = time.monotonic()

    def close(self) -> None:
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
