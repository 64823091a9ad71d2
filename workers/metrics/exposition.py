"""HTTP exposition: a ``/metrics`` server for the lifetime of a ``with`` block, never fatal to the process;
and the process the worker fleet forks to serve the sum of its workers' metrics.

A port that is taken (another fleet on the same machine, a developer's ``make run``) is logged and the
process runs on without metrics: metrics must never be the reason a worker or relay does not start.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import structlog
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from workers.logging import configure_logging
from workers.metrics.fleet_run import FleetRun
from workers.settings import Settings
from workers.stopping import STOP_SIGNALS, SignalStop, StopFlag

_STOP_TIMEOUT_S = 5.0
_CHECK_EVERY_S = 0.5


class SettledFilesCollector(MultiProcessCollector):
    """Sums the run's metric files, leaving out any a process has created but not yet sized.

    prometheus_client creates a process's file and only then sizes it, so a scrape at that moment read
    zero bytes and failed as a whole (HTTP 500, every process's metrics lost with it); a process killed
    in that moment leaves the empty file for good. An empty file holds nothing yet, so leaving it out
    loses nothing. (prometheus/client_python#1199, unfixed in 0.26.)
    """

    def __init__(self, registry: CollectorRegistry, path: str, run: FleetRun | None = None) -> None:
        super().__init__(registry, path=path)  # type: ignore[no-untyped-call]
        self._run = run

    def collect(self) -> Iterable[Metric]:
        if self._run is not None:  # a worker process killed: its live gauges (in progress, processes) go
            for pid in self._run.forget_dead_members():
                mark_process_dead(pid, self._path)  # type: ignore[no-untyped-call]
        files = [path for path in glob.glob(os.path.join(self._path, "*.db")) if _has_content(path)]
        merged: Iterable[Metric] = self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
        return merged


def _has_content(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:  # its process left between the listing and now
        return False


@contextmanager
def serving(registry: CollectorRegistry, port: int, *, component: str, address: str) -> Iterator[bool]:
    """Serves ``registry`` on ``address``:``port`` inside the block; yields whether the server is up."""
    log = structlog.get_logger("docfleet.metrics")
    try:
        server, thread = start_http_server(port, addr=address, registry=registry)
    except OSError as error:
        log.warning(
            "metrics server not started", component=component, address=address, port=port, error=str(error)
        )
        yield False
        return
    log.info("metrics server started", component=component, address=address, port=port)
    try:
        yield True
    finally:
        server.shutdown()
        server.server_close()
        thread.join(_STOP_TIMEOUT_S)


def serve_worker_metrics() -> int:
    """Runs in the process Dramatiq forks for the middleware (``Metrics.forks``): serves, on
    ``WORKER_METRICS_PORT``, the sum of the metrics of every worker process of this run (``serves_on``)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    # A second SIGTERM (the process group's, then Dramatiq's) changes nothing; SIGHUP, Dramatiq's reload,
    # stops it as SIGTERM does, serving on while the workers drain.
    stop = SignalStop().install(STOP_SIGNALS)
    run = FleetRun.current()
    run.join()
    try:
        registry = CollectorRegistry()
        SettledFilesCollector(registry, path=str(run.path), run=run)
        port, address = settings.worker_metrics_port, settings.metrics_bind_address
        with serving(registry, port, component="worker", address=address) as up:
            while up and serves_on(stop, run):
                time.sleep(_CHECK_EVERY_S)
    finally:
        run.leave()
    return 0


def serves_on(stop: StopFlag, run: FleetRun) -> bool:
    """Until Dramatiq's main process is gone (killed, it sends no SIGTERM: left serving, this process
    would keep the port from the next run's and answer with an empty page). Asked to stop, it serves on
    while a worker process of the run lives: the workers finish the messages in hand first (up to their
    shutdown timeout), and what those messages count is served meanwhile, not lost with the endpoint."""
    if os.getppid() != run.parent_pid:
        return False
    return not stop.is_set() or run.has_other_members()
