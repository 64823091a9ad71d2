"""How long the relay waits: before its next batch once it is busy, and after an error.

Each batch has a fixed cost whatever it holds: the fetch and the mark (two statements), one wait for the
confirms, a wake-up on NOTIFY. At a few events a second the relay publishes each event as soon as it
commits. Once a batch holds ``busy_batch`` events or more, events are arriving faster than the relay
goes round, and it starts its batches ``window`` seconds apart: the events arriving meanwhile share one
batch's fixed cost. Each event then waits up to ``window`` longer. When batches shrink below
``busy_batch`` again the relay goes back to publishing at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    busy_batch: int
    """A batch of at least this many events means the relay is busy."""
    window: float
    """While busy, seconds from the start of one batch to the start of the next; 0 never waits."""

    def pause(self, published: int, batch_started: float, now: float) -> float:
        """Seconds to wait before the next batch, after one of ``published`` events that started at
        ``batch_started`` (``time.monotonic()``) and whose notification wait ended at ``now``."""
        if self.window <= 0 or published < self.busy_batch:
            return 0.0
        return max(0.0, self.window - (now - batch_started))


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
