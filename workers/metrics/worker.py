"""The worker process's metrics: installed when the process boots, gone when it stops.

Light to import (prometheus_client is loaded by ``install``): ``workers.broker`` imports this module in
every process that builds a broker, producers included, and only booted worker processes install.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from multiprocessing import util as process_exit
from typing import TYPE_CHECKING

from dramatiq.common import q_name

from workers.metrics.fleet_run import FleetRun
from workers.metrics.tally import DeadLettered, MessageTally

if TYPE_CHECKING:
    from workers.metrics.definitions import WorkerMetrics

UNKNOWN_ACTOR = "unknown"
"""The ``actor`` label of a message whose actor docfleet does not have, or that has no readable actor."""


@dataclass(frozen=True)
class _Installed:
    metrics: WorkerMetrics
    tally: MessageTally
    run: FleetRun


_lock = threading.Lock()
_installed: _Installed | None = None


def install() -> MessageTally:
    """Joins the fleet run's metrics directory, builds this process's metrics there and starts the tally
    of its messages (idempotent)."""
    global _installed
    with _lock:
        if _installed is None:
            run = FleetRun.current()
            run.join()
            _use_multiprocess_values()
            from workers.metrics.definitions import WorkerMetrics

            metrics = WorkerMetrics()
            _installed = _Installed(metrics, MessageTally(metrics), run)
            _installed.tally.start()
            # A worker process stopped at boot (the schema gate's SystemExit) never reaches the worker's
            # shutdown hooks: multiprocessing runs its finalizers as the process ends, however it ends.
            process_exit.Finalize(None, uninstall, exitpriority=10)
        return _installed.tally


def current() -> WorkerMetrics | None:
    """This process's metrics, or None where none were installed (metrics off, not a worker process)."""
    installed = _installed
    return None if installed is None else installed.metrics


def uninstall() -> None:
    """Writes the tally's last notes, marks this process dead for the live gauges, and leaves the run
    (the last one out cleans up)."""
    global _installed
    with _lock:
        installed, _installed = _installed, None
    if installed is not None:
        installed.tally.stop()
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), str(installed.run.path))  # type: ignore[no-untyped-call]
        installed.run.leave()


def note_unreadable(queue: str) -> None:
    """A delivery dead-lettered before it reached an actor: not a docfleet envelope, or the wrong queue."""
    installed = _installed
    if installed is not None:
        installed.tally.note(unknown_actor_dead_lettered(queue))


def unknown_actor_dead_lettered(queue: str) -> DeadLettered:
    """The note of a message dead-lettered from ``queue`` that reached no actor: it counts as invalid too."""
    return DeadLettered((q_name(queue), UNKNOWN_ACTOR), (UNKNOWN_ACTOR, "invalid"))  # documents.DQ: documents


def _use_multiprocess_values() -> None:
    """prometheus_client picks its value class when first imported; if anything imported it before the
    run's directory was set, switch it now, before the first metric is built."""
    from prometheus_client import values

    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
