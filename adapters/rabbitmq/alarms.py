"""Waiting out a RabbitMQ resource alarm on the connection it blocks.

While a memory or disk alarm lasts, RabbitMQ reads nothing from the connections that publish, and routes
what they sent once it clears. A batch given up and sent again on a new connection meanwhile would be
routed once more for each attempt, so a publisher that is given a stop flag waits for its confirms on
the blocked connection instead, and for one whole timeout after the unblock, while RabbitMQ routes what
it held. The connection's blocked timeout (``connection.connection_parameters``) still bounds the wait.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Protocol


class StopAsking(Protocol):
    """What a publisher asks of its owner's stop flag (``workers.stopping.StopFlag`` is one)."""

    def is_set(self) -> bool: ...


class AlarmWatch:
    """Whether RabbitMQ blocks a connection, fed by pika's ``Connection.Blocked`` and ``Unblocked``."""

    def __init__(self, stop: StopAsking | None, clock: Callable[[], float] = time.monotonic) -> None:
        """``stop``: the owner's stop flag; without one, a blocked batch times out as any other."""
        self.blocked = False
        self._stop = stop
        self._clock = clock
        self._unblocked_at = -math.inf

    def on_blocked(self, _connection: Any, _frame: Any) -> None:
        self.blocked = True

    def on_unblocked(self, _connection: Any, _frame: Any) -> None:
        self.blocked = False
        self._unblocked_at = self._clock()

    def holds(self, timeout: float) -> bool:
        """Whether a wait for confirms that ran out of ``timeout`` is to go on: blocked, or unblocked less
        than ``timeout`` ago."""
        if self._stop is None:
            return False
        return self.blocked or self._clock() - self._unblocked_at < timeout

    def stop_asked(self) -> bool:
        return self._stop is not None and self._stop.is_set()
