"""How long the relay waits: before its next batch once it is busy, and after an error.

Each batch has a fixed cost whatever it holds: the fetch and the mark (two statements), one wait for the
confirms, a wake-up on NOTIFY. While events come slowly the relay publishes each as soon as it commits.
It is busy once a batch holds ``busy_batch`` events or more that committed at ``busy_rate`` a second or
faster (counted from the start of the batch before): it then starts its batches ``window`` seconds
apart, and the events arriving meanwhile share one batch's fixed cost. Each event then waits up to
``window`` longer. The rate keeps a stall at a low load (a batch grown large because the relay was held
up, its events spread over that time) from counting as busy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    busy_batch: int
    """Fewer events than this in a batch: not busy."""
    busy_rate: float
    """Events a second at which a batch of at least ``busy_batch`` means the relay is busy."""
    window: float
    """While busy, seconds from the start of one batch to the start of the next; 0 never waits."""

    def pause(self, published: int, previous_started: float, batch_started: float, now: float) -> float:
        """Seconds to wait before the next batch, after one of ``published`` events that started at
        ``batch_started``, the one before at ``previous_started``, and whose notification wait ended at
        ``now`` (all ``time.monotonic()``)."""
        if self.window <= 0 or published < self.busy_batch:
            return 0.0
        gathered_over = batch_started - previous_started
        if gathered_over > 0 and published / gathered_over < self.busy_rate:
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
