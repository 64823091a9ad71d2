"""The waits before trying again after a failure: the relay's, the audit consumer's, the supervisor's."""

from __future__ import annotations


class Backoff:
    """Bounded exponential delays: initial, twice that, ... up to ``maximum``; ``reset`` after a success."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._initial, self._maximum = initial, maximum
        self._next = initial

    def next_delay(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self._maximum)
        return delay

    def reset(self) -> None:
        self._next = self._initial
