"""How long the relay waits before its next batch once it is busy.

Each batch has a fixed cost whatever it holds: the fetch and the mark (two statements), one wait for the
confirms, a wake-up on NOTIFY. While events come slowly the relay publishes each as soon as it commits.
It is busy while events commit at ``busy_rate`` a second or faster, over the last ``span`` seconds at
least: it then starts its batches ``window`` seconds apart, and the events arriving meanwhile share one
batch's fixed cost. Each event then waits up to ``window`` longer.

A batch's events committed between the start of the batch before and its own, so the rate is counted
over those spans: a batch grown large because the relay was held up at a low load came at that low rate.
"""

from __future__ import annotations

import itertools
from collections import deque

SPAN_S = 0.1


class Pacing:
    """The relay's recent batches and the pause they call for; used by the relay's one thread."""

    def __init__(self, busy_rate: float, window: float, span: float = SPAN_S) -> None:
        self._busy_rate, self._window, self._span = busy_rate, window, span
        self._batches: deque[tuple[float, int]] = deque()  # (started, events), oldest first

    def note(self, published: int, started: float) -> None:
        """A batch of ``published`` events (none included) fetched at ``started`` (``time.monotonic()``)."""
        self._batches.append((started, published))
        while len(self._batches) > 2 and self._batches[1][0] <= started - self._span:
            self._batches.popleft()

    def rate(self) -> float:
        """Events a second: those of every batch noted but the oldest kept, over the time since it."""
        if len(self._batches) < 2:
            return 0.0
        elapsed = self._batches[-1][0] - self._batches[0][0]
        events = sum(count for _, count in itertools.islice(self._batches, 1, None))
        return events / elapsed if elapsed > 0 else 0.0

    def pause(self, now: float) -> float:
        """Seconds to wait, at ``now``, before the batch after the last one noted: the rest of the window
        since that one started while busy, else none."""
        if self._window <= 0 or self.rate() < self._busy_rate:
            return 0.0
        return max(0.0, self._window - (now - self._batches[-1][0]))
