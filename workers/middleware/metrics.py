"""Prometheus metrics of every worker process, summed over the fleet and served by one process of it.

Dramatiq's own ``dramatiq.middleware.prometheus.Prometheus`` shows the way: prometheus_client's
multiprocess mode (each process writes its values to files in one directory) and a process forked by
Dramatiq that serves the aggregate. This middleware follows it, with docfleet's port setting
(``WORKER_METRICS_PORT``), one directory per fleet run, removed when the run ends
(``workers.metrics.fleet_run``), and docfleet's own metrics: outcomes, dead letters, cache lookups.

Registered before Dramatiq's Retries, like ``Outcomes``: its ``after_*`` hooks run after Retries has
decided whether a failed message retries (``message.failed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.common import q_name
from dramatiq.middleware import Middleware

from workers.contract import InvalidMessage
from workers.metrics import worker as worker_metrics
from workers.metrics.worker import UNKNOWN_ACTOR
from workers.middleware import outcomes
from workers.middleware.envelope import OVERSIZE_OPTION
from workers.settlement import was_sent

if TYPE_CHECKING:
    from workers.metrics.definitions import WorkerMetrics

_started: ContextVar[float | None] = ContextVar("docfleet_metrics_started", default=None)


class Metrics(Middleware):
    """Counts, per queue and actor, what each worker process does; see docs/metrics.md."""

    def __init__(self) -> None:
        self._metrics: WorkerMetrics | None = None

    @property
    def forks(self) -> list[Callable[[], int]]:
        from workers.metrics.exposition import serve_worker_metrics

        return [serve_worker_metrics]

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        self._metrics = worker_metrics.install()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._metrics = None
        worker_metrics.uninstall()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        _started.set(time.perf_counter())
        metrics = self._metrics  # read once: the worker's shutdown may clear it meanwhile
        if metrics is not None:
            metrics.in_progress.labels(q_name(message.queue_name), message.actor_name).inc()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        metrics = self._metrics
        if metrics is not None:
            self._finished(metrics, message, outcome_of(message, exception), failed=exception is not None)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        metrics = self._metrics
        if metrics is not None:
            outcome = "invalid" if OVERSIZE_OPTION in message.options else "skipped"
            self._finished(metrics, message, outcome, failed=message.failed)

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        metrics = self._metrics
        if metrics is None or not was_sent(message):
            return
        known = message.actor_name in broker.actors
        actor = message.actor_name if known else UNKNOWN_ACTOR
        metrics.dead_lettered.labels(q_name(message.queue_name), actor).inc()
        if not known:  # never reached an actor: Dramatiq's consumer dead-letters it
            metrics.outcomes.labels(actor, "invalid").inc()

    def _finished(
        self, metrics: WorkerMetrics, message: dramatiq.MessageProxy, outcome: str, *, failed: bool
    ) -> None:
        labels = (q_name(message.queue_name), message.actor_name)  # one on its delay queue: under its queue
        started = _started.get()
        if started is not None:
            metrics.duration.labels(*labels).observe(time.perf_counter() - started)
            metrics.in_progress.labels(*labels).dec()
        _started.set(None)
        metrics.processed.labels(*labels).inc()
        metrics.outcomes.labels(message.actor_name, outcome).inc()
        if failed:
            metrics.failed.labels(*labels).inc()
        if outcome == "retrying":
            metrics.retried.labels(*labels).inc()


def outcome_of(message: dramatiq.MessageProxy, exception: BaseException | None) -> str:
    """The outcome word the outcome log line uses (``workers.middleware.outcomes``)."""
    if exception is None:
        noted = outcomes._noted.get()  # what the actor noted: applied, duplicate, refused, answered
        return "completed" if noted is None else noted.outcome
    if isinstance(exception, InvalidMessage):
        return "invalid"
    return "dead_lettered" if message.failed else "retrying"
