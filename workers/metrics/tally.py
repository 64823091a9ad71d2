"""The messages' metrics of one worker process, noted by its threads and written by one thread of its own.

prometheus_client's multiprocess values take one lock per process for every update, and write the value
to the process's file under it; each label lookup takes its metric's lock too. A message made six such
updates, and a worker's threads queued on those locks (docs/performance-history.md). Here a thread only
appends a note of what became of its message to a deque, which takes no lock but the interpreter's, and
the tally's thread sums each interval's notes and writes each label set's sum once.

What is served is about ``WRITE_INTERVAL_S`` behind, a small part of any scrape interval, and a scrape
taken while the tally writes may show some of a message's counts and not yet the others: compare
scrapes, not the series of one. A sum that could not be written stays noted, for the next write. A
worker process killed (SIGKILL: a second SIGTERM only repeats the stop, ``GracefulStop``) loses the
counts of its last interval.
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
STOP_TIMEOUT_S = 5.0  # a module global, so that a test can shorten it

Labels = tuple[str, str]  # (queue, actor), or (actor, outcome) for the outcomes


@dataclass(frozen=True, slots=True)
class Started:
    labels: Labels


@dataclass(frozen=True, slots=True)
class Finished:
    """One attempt of a message, ended; ``duration`` None when its start was not noted. ``ran`` False: it
    was skipped unrun, and its duration is not observed."""

    labels: Labels
    outcome: str
    duration: float | None
    failed: bool
    retried: bool
    ran: bool = True


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """``outcome``: the outcome it counts too, when no attempt of it ran (an unknown or unreadable actor)."""

    labels: Labels
    outcome: Labels | None = None


Note = Started | Finished | DeadLettered


@dataclass
class _Sums:
    """What was noted and not yet written; every series seen, in ``in_progress``, even at 0."""

    in_progress: Counter[Labels] = field(default_factory=Counter)
    durations: deque[tuple[Labels, float]] = field(default_factory=deque)
    processed: Counter[Labels] = field(default_factory=Counter)
    failed: Counter[Labels] = field(default_factory=Counter)
    retried: Counter[Labels] = field(default_factory=Counter)
    dead_lettered: Counter[Labels] = field(default_factory=Counter)
    outcomes: Counter[Labels] = field(default_factory=Counter)

    def add(self, note: Note) -> None:
        if isinstance(note, Finished):
            if note.duration is not None:  # its start was noted
                self.in_progress[note.labels] -= 1
                if note.ran:
                    self.durations.append((note.labels, note.duration))
            self.processed[note.labels] += 1
            self.failed[note.labels] += note.failed
            self.retried[note.labels] += note.retried
            self.outcomes[(note.labels[1], note.outcome)] += 1
        elif isinstance(note, Started):
            self.in_progress[note.labels] += 1
        else:
            self.dead_lettered[note.labels] += 1
            if note.outcome is not None:
                self.outcomes[note.outcome] += 1


class MessageTally:
    """``note`` from any thread; ``start`` the thread that writes the notes every ``interval``, and
    ``stop`` it, which writes the last ones: from then on each note is written as it is taken."""

    def __init__(self, metrics: WorkerMetrics, interval: float = WRITE_INTERVAL_S) -> None:
        self._metrics, self._interval = metrics, interval
        self._notes: deque[Note] = deque()
        self._unwritten = _Sums()  # only under the write lock
        self._write_lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()  # the writer gone: each note is written by its own thread
        self._writer: threading.Thread | None = None

    def note(self, note: Note) -> None:
        self._notes.append(note)
        if self._stopped.is_set():  # a message that outlived the worker's shutdown
            self._write_logged()

    def start(self) -> None:
        if self._writer is None:
            writer = threading.Thread(target=self._write_until_stopped, name="metrics-tally", daemon=True)
            self._writer = writer
            writer.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._writer is not None:
            self._writer.join(STOP_TIMEOUT_S)
            if self._writer.is_alive():  # hung in a write: later notes only queue, never wait on it
                _log().error("metrics writer did not stop", waited_s=STOP_TIMEOUT_S)
                return
        self._stopped.set()
        self._write_logged()

    def _write_until_stopped(self) -> None:
        while not self._stopping.wait(self._interval):
            self._write_logged()

    def _write_logged(self) -> None:
        try:
            self.write()
        except Exception:  # a metric never stops a worker; what was not written is tried again
            _log().exception("metrics not written")

    def write(self) -> None:
        """Writes what was noted so far, each label set's sum at once, the outcomes last."""
        with self._write_lock:
            unwritten, metrics = self._unwritten, self._metrics
            for _ in range(len(self._notes)):  # popleft is safe beside threads appending
                unwritten.add(self._notes.popleft())
            for labels, change in list(unwritten.in_progress.items()):
                metrics.in_progress.labels(*labels).inc(change)  # at 0 too: the series exists
                del unwritten.in_progress[labels]
            while unwritten.durations:
                labels, duration = unwritten.durations[0]
                metrics.duration.labels(*labels).observe(duration)
                unwritten.durations.popleft()
            _add(metrics.processed, unwritten.processed)
            _add(metrics.failed, unwritten.failed)
            _add(metrics.retried, unwritten.retried)
            _add(metrics.dead_lettered, unwritten.dead_lettered)
            _add(metrics.outcomes, unwritten.outcomes)


def _add(metric: prometheus_client.Counter, unwritten: Counter[Labels]) -> None:
    """Writes each sum, and forgets it once written."""
    for labels, amount in list(unwritten.items()):
        if amount:
            metric.labels(*labels).inc(amount)
        del unwritten[labels]


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("docfleet.metrics")  # type: ignore[no-any-return]
