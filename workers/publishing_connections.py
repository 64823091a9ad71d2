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

    def enqueue(self, message: dramatiq.Message[Any], *, delay: int | None = None) -> dramatiq.Message[Any]:
        used_at = getattr(self.state, "docfleet_used_at", None)
        idle_limit = self.parameters.heartbeat or 0
        if used_at is not None and idle_limit and time.monotonic() - used_at > idle_limit:
            with library_lines_quieted():
                del self.connection  # type: ignore[attr-defined]  # Dramatiq's: closes it, and its channel
        try:
            return super().enqueue(message, delay=delay)  # type: ignore[misc, no-any-return]
        finally:
            self.state.docfleet_used_at = time.monotonic()

    def close(self) -> None:
        with library_lines_quieted():
            super().close()  # type: ignore[misc]
