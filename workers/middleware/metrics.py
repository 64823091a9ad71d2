"""Prometheus metrics of every worker process, summed over the fleet and served by one process of it.

Dramatiq's own ``dramatiq.middleware.prometheus.Prometheus`` shows the way: prometheus_client's
multiprocess mode (each process writes its values to files in one directory) and a process forked by
Dramatiq that serves the aggregate. This middleware follows it, with docfleet's port setting
(``WORKER_METRICS_PORT``), one directory per fleet run, removed when the run ends
(``workers.metrics.fleet_run``), and docfleet's own metrics: outcomes, dead letters, cache lookups.
Each message's counts are noted in the process's tally (``workers.metrics.tally``), whose own thread
writes them.

Registered before Dramatiq's Retries, like ``Outcomes``: its ``after_*`` hooks run after Retries has
decided whether a failed message retries (``message.failed``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import dramatiq
from dramatiq.common import q_name
from dramatiq.middleware import Middleware

from workers.contract import InvalidMessage
from workers.metrics import worker as worker_metrics
from workers.metrics.tally import DeadLettered, Finished, MessageTally, Started
from workers.middleware import outcomes
from workers.middleware.envelope import OVERSIZE_OPTION
from workers.middleware.redeliveries import SETTLED_BEFORE_OPTION
from workers.settlement import was_sent

_started: ContextVar[float | None] = ContextVar("docfleet_metrics_started", default=None)


class Metrics(Middleware):
    """Counts, per queue and actor, what each worker process does; see docs/metrics.md."""

    def __init__(self) -> None:
        self._tally: MessageTally | None = None

    @property
    def forks(self) -> list[Callable[[], int]]:
        from workers.metrics.exposition import serve_worker_metrics

        return [serve_worker_metrics]

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        self._tally = worker_metrics.install()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._tally = None
        worker_metrics.uninstall()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        _started.set(time.perf_counter())
        tally = self._tally  # read once: the worker's shutdown may clear it meanwhile
        if tally is not None:
            tally.note(Started((q_name(message.queue_name), message.actor_name)))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        tally = self._tally
        if tally is not None:
            _finished(tally, message, outcome_of(message, exception), failed=exception is not None)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        tally = self._tally
        if tally is not None:
            skipped = "dead_lettered" if message.failed else "skipped"  # failed: too often redelivered
            if SETTLED_BEFORE_OPTION in message.options:
                skipped = "duplicate"
            outcome = "invalid" if OVERSIZE_OPTION in message.options else skipped
            _finished(tally, message, outcome, failed=message.failed, ran=False)

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        tally = self._tally
        if tally is None or not was_sent(message):
            return
        if message.actor_name in broker.actors:
            tally.note(DeadLettered((q_name(message.queue_name), message.actor_name)))
        else:  # never reached an actor: Dramatiq's consumer dead-letters it
            tally.note(worker_metrics.unknown_actor_dead_lettered(message.queue_name))


def _finished(
    tally: MessageTally, message: dramatiq.MessageProxy, outcome: str, *, failed: bool, ran: bool = True
) -> None:
    """``ran``: False for a message skipped unrun (too large, delivered again too often), whose near-zero
    time would pull the duration's quantiles down."""
    started = _started.get()
    _started.set(None)
    labels = (q_name(message.queue_name), message.actor_name)  # one on its delay queue: under its queue
    duration = None if started is None else time.perf_counter() - started
    tally.note(Finished(labels, outcome, duration, failed, retried=outcome == "retrying", ran=ran))


def outcome_of(message: dramatiq.MessageProxy, exception: BaseException | None) -> str:
    """The outcome word the outcome log line uses (``workers.middleware.outcomes``)."""
    if exception is None:
        noted = outcomes._noted.get()  # what the actor noted: applied, duplicate, refused, answered
        return "completed" if noted is None else noted.outcome
    if isinstance(exception, InvalidMessage):
        return "invalid"
    return "dead_lettered" if message.failed else "retrying"
