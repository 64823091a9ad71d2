"""The messages' metrics of one worker process, noted by its threads and written by one thread of its own.

prometheus_client's multiprocess values take one lock per process for every update, and write the value
to the process's file under it; each label lookup takes its metric's lock too. A message made six such
updates, and a worker's threads queued on those locks (docs/performance.md). Here a thread only appends
a note of what became of its message to a deque, which takes no lock but the interpreter's, and the
tally's thread sums each interval's notes and writes each label set's sum once.

What is served is at most ``WRITE_INTERVAL_S`` behind, a small part of any scrape interval. Within one
write every other count comes before the outcomes, so a scrape that sees a message's outcome also sees
the rest of what it counted.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    import prometheus_client

    from workers.metrics.definitions import WorkerMetrics

WRITE_INTERVAL_S = 0.2

Labels = tuple[str, str]  # (queue, actor), or (actor, outcome) for the outcomes


@dataclass(frozen=True, slots=True)
class Started:
    labels: Labels


@dataclass(frozen=True, slots=True)
class Finished:
    """One attempt of a message, ended; ``duration`` None when its start was not noted."""

    labels: Labels
    outcome: str
    duration: float | None
    failed: bool
    retried: bool


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """``outcome``: the outcome it counts too, when no attempt of it ran (an unknown or unreadable actor)."""

    labels: Labels
    outcome: Labels | None = None


Note = Started | Finished | DeadLettered


@dataclass
class _Sums:
    in_progress: Counter[Labels] = field(default_factory=Counter)
    processed: Counter[Labels] = field(default_factory=Counter)
    failed: Counter[Labels] = field(default_factory=Counter)
    retried: Counter[Labels] = field(default_factory=Counter)
    dead_lettered: Counter[Labels] = field(default_factory=Counter)
    outcomes: Counter[Labels] = field(default_factory=Counter)

    def add_finished(self, attempt: Finished) -> None:
        if attempt.duration is not None:
            self.in_progress[attempt.labels] -= 1
        self.processed[attempt.labels] += 1
        self.failed[attempt.labels] += attempt.failed
        self.retried[attempt.labels] += attempt.retried
        self.outcomes[(attempt.labels[1], attempt.outcome)] += 1


class MessageTally:
    """``note`` from any thread; ``start`` the thread that writes the notes every ``interval``, and
    ``stop`` it, which writes the last ones."""

    def __init__(self, metrics: WorkerMetrics, interval: float = WRITE_INTERVAL_S) -> None:
        self._metrics, self._interval = metrics, interval
        self._notes: deque[Note] = deque()
        self._stopping = threading.Event()
        self._writer: threading.Thread | None = None

    def note(self, note: Note) -> None:
        self._notes.append(note)

    def start(self) -> None:
        self._writer = threading.Thread(target=self._write_until_stopped, name="metrics-tally", daemon=True)
        self._writer.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._writer is not None:
            self._writer.join()
        self._write_logged()

    def _write_until_stopped(self) -> None:
        while not self._stopping.wait(self._interval):
            self._write_logged()

    def _write_logged(self) -> None:
        try:
            self.write()
        except Exception:  # a metric never stops a worker; the notes taken are lost, not retried
            structlog.get_logger("docfleet.metrics").exception("metrics not written")

    def write(self) -> None:
        """Writes the notes taken so far (one thread at a time: the tally's, or its stopper's)."""
        metrics, sums = self._metrics, _Sums()
        for _ in range(len(self._notes)):  # popleft is safe beside threads appending
            note = self._notes.popleft()
            if isinstance(note, Finished):
                sums.add_finished(note)
                if note.duration is not None:
                    metrics.duration.labels(*note.labels).observe(note.duration)
            elif isinstance(note, Started):
                sums.in_progress[note.labels] += 1
            else:
                sums.dead_lettered[note.labels] += 1
                if note.outcome is not None:
                    sums.outcomes[note.outcome] += 1
        for labels, change in sums.in_progress.items():
            if change:
                metrics.in_progress.labels(*labels).inc(change)
        _add(metrics.processed, sums.processed)
        _add(metrics.failed, sums.failed)
        _add(metrics.retried, sums.retried)
        _add(metrics.dead_lettered, sums.dead_lettered)
        _add(metrics.outcomes, sums.outcomes)  # last: see the module's docstring


def _add(metric: prometheus_client.Counter, sums: Counter[Labels]) -> None:
    for labels, amount in sums.items():
        if amount:
            metric.labels(*labels).inc(amount)
