"""The outbox relay: publishes committed events on ``doc.events``, in ``seq`` order, at least once.

Several instances may run at once: the one holding ``RelayLeadership`` (a Postgres advisory lock) publishes,
the others stand by and retry every second. One publisher at a time is what keeps each document's events in
the order their changes committed. An event is marked published only after RabbitMQ confirmed it, so a
crash between the two publishes it again (consumers deduplicate on the event id); one RabbitMQ refused is
sent again later, after later events of its document, a few times, then given up
(``workers.relay_refusals``).

The leader sleeps on LISTEN/NOTIFY (units of work notify when they commit outbox rows), with a polling
fallback; once busy, it starts its batches a short window apart so that each carries more events
(``workers.relay_pacing``). RabbitMQ or Postgres errors are logged, then the relay backs off (bounded,
exponential) and starts over with new connections. Setting ``stop_event`` (SIGTERM, SIGINT, SIGHUP) lets the
current batch finish, unless a RabbitMQ resource alarm holds its confirms: the stop then ends that wait
within the publish timeout and leaves the batch, unmarked, to the next leader.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import psycopg
import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.postgres.engine import create_engine
from adapters.postgres.errors import missing_table
from adapters.postgres.outbox import OutboxListener, OutboxStore, RelayLeadership
from adapters.rabbitmq.publisher import EventPublisher, PublishError, PublishStopped
from workers.backoff import Backoff
from workers.metrics.relay import OTHER, POSTGRES, RABBITMQ, RelayMetrics, relay_metrics
from workers.relay_batches import OutboxBatches, Publisher
from workers.relay_pacing import Pacing
from workers.relay_refusals import ATTEMPTS, FIRST_WAIT_S
from workers.settings import Settings
from workers.stopping import StopFlag

__all__ = ["RECOVERABLE_ERRORS", "STOP_CHECK_S", "Publisher", "Relay", "RelayOptions", "run_relay"]

log = structlog.get_logger("docfleet.relay")

RECOVERABLE_ERRORS: tuple[type[BaseException], ...] = (PublishError, SQLAlchemyError, psycopg.Error, OSError)


STOP_CHECK_S = 0.5
"""How often a leader waiting for events looks whether it was asked to stop."""


@dataclass(frozen=True)
class RelayOptions:
    batch_size: int = 500
    poll_interval: float = 1.0
    """Seconds the leader sleeps when no NOTIFY comes, before it looks at the outbox anyway."""
    standby_retry: float = 1.0
    backoff_initial: float = 0.5
    backoff_max: float = 15.0
    publish_timeout: float = 10.0
    stats_interval: float = 60.0
    busy_rate: float = 1000.0
    """Events committing this fast a second or faster make the relay busy (``workers.relay_pacing``)."""
    busy_window: float = 0.02
    """While busy, seconds from the start of one batch to the start of the next; 0 never waits."""
    refusal_attempts: int = ATTEMPTS
    """Sends of an event RabbitMQ keeps refusing before it is given up (``workers.relay_refusals``)."""
    refusal_first_wait: float = FIRST_WAIT_S
    statement_timeout_ms: int = 10_000
    """How long a read or a mark of the outbox may run or wait on a lock before Postgres cancels it and
    the relay logs it and starts over (a migration or a manual transaction holding the outbox)."""


def run_relay(
    settings: Settings,
    stop_event: StopFlag,
    *,
    options: RelayOptions | None = None,
    publisher_factory: Callable[[], Publisher] | None = None,
    metrics: RelayMetrics | None = None,
) -> None:
    """Runs until ``stop_event`` is set; returns once the batch in flight, if any, is marked published
    (or left to the next leader, its confirms held by a resource alarm).

    The relay's metrics are served as ``settings`` say, unless ``metrics`` are given: those are only kept."""
    opts = options or RelayOptions()
    factory = publisher_factory or (
        lambda: EventPublisher(settings.amqp_url, timeout=opts.publish_timeout, wait_out_alarms=stop_event)
    )
    # No ping per checkout: a broken connection fails one cycle; the relay starts over after its back-off.
    engine = create_engine(
        settings.database_url,
        pool_size=2,
        pre_ping=False,
        statement_timeout_ms=opts.statement_timeout_ms,
        application_name="docfleet-relay",
    )
    try:
        with _metrics_for(settings, metrics) as kept:
            Relay(engine, factory, stop_event, opts, kept).run()
    finally:
        engine.dispose()


def _metrics_for(settings: Settings, given: RelayMetrics | None) -> AbstractContextManager[RelayMetrics]:
    return relay_metrics(settings) if given is None else nullcontext(given)


class Relay:
    def __init__(
        self,
        engine: Engine,
        publisher_factory: Callable[[], Publisher],
        stop: StopFlag,
        options: RelayOptions,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self._engine = engine
        self._new_publisher = publisher_factory
        self._stop = stop
        self._options = options
        self._metrics = metrics or RelayMetrics()
        self._store = OutboxStore(engine)
        self._backoff = Backoff(options.backoff_initial, options.backoff_max)
        self._pacing = Pacing(options.busy_rate, options.busy_window)
        self._batches = OutboxBatches(
            batch_size=options.batch_size,
            refusal_attempts=options.refusal_attempts,
            refusal_first_wait=options.refusal_first_wait,
            metrics=self._metrics,
        )
        self._published_since_stats = 0
        self._stats_due = time.monotonic() + options.stats_interval
        # Told once, not at each start over after an error (RabbitMQ away, say, every few seconds): the
        # first lead, and each after standing by; after errors, the first lead that can publish again.
        self._told_leading = False
        self._errors_since_lead = 0

    def run(self) -> None:
        log.info("relay started", batch_size=self._options.batch_size)
        while not self._stop.is_set():
            try:
                timeout = self._options.statement_timeout_ms
                with RelayLeadership(self._engine, statement_timeout_ms=timeout) as leadership:
                    if self._wait_for_leadership(leadership):
                        with self._metrics.leading(self._store):
                            self._lead(leadership)
            except PublishStopped as stopped:  # the stop ended a wait for confirms during a resource alarm
                log.info("relay stopping: the batch in flight is left to the next leader", error=str(stopped))
                break
            except RECOVERABLE_ERRORS as exc:
                delay = self._backoff.next_delay()
                self._metrics.failed(_service_of(exc))
                self._errors_since_lead += 1
                log.warning(
                    "relay error, starting over", error=_describe(exc), retry_in_s=delay, **_hint(exc)
                )
                self._stop.wait(delay)
        log.info("relay stopped")

    def _wait_for_leadership(self, leadership: RelayLeadership) -> bool:
        standing_by = False
        while not self._stop.is_set():
            if leadership.acquire():
                if not self._told_leading:
                    log.info("relay is the leader")
                    self._told_leading, self._errors_since_lead = True, 0
                return True
            if not standing_by:
                log.info("another relay is the leader, standing by")
                standing_by, self._told_leading = True, False
            self._stop.wait(self._options.standby_retry)
        return False

    def _lead(self, leadership: RelayLeadership) -> None:
        self._batches.forget_refusals()  # another leader may have published them meanwhile
        listener = OutboxListener(self._engine)
        try:
            publisher = self._new_publisher()
            if self._errors_since_lead:
                log.info("relay is leading again", after_errors=self._errors_since_lead)
                self._errors_since_lead = 0
            try:
                self._pump(OutboxStore(self._engine, leadership), listener, publisher)
            finally:
                publisher.close()
        finally:
            listener.close()

    def _pump(self, leader_store: OutboxStore, listener: OutboxListener, publisher: Publisher) -> None:
        """Each batch is read on the leadership's connection: once it is lost, the read raises."""
        while not self._stop.is_set():
            started = time.monotonic()
            published, settled = self._batches.publish(leader_store, publisher)
            self._published_since_stats += settled
            self._pacing.note(published, started)
            if published < self._options.batch_size:
                self._await_events(listener)
                publisher.keepalive()
                self._gather()
            self._backoff.reset()
            self._log_stats_when_due()

    def _await_events(self, listener: OutboxListener) -> None:
        """Until a NOTIFY, ``poll_interval`` or a stop: a stop must not wait out a long interval."""
        deadline = time.monotonic() + self._options.poll_interval
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or listener.wait(min(left, STOP_CHECK_S)):
                return

    def _gather(self) -> None:
        now = time.monotonic()
        pause = self._pacing.pause(now)
        if pause > 0:
            self._stop.wait(pause)
            self._metrics.gathered(time.monotonic() - now)

    def _log_stats_when_due(self) -> None:
        if time.monotonic() < self._stats_due:
            return
        self._stats_due = time.monotonic() + self._options.stats_interval
        log.info(
            "outbox status",
            published=self._published_since_stats,
            pending=self._store.pending_count(),
            oldest_pending_age_s=self._store.oldest_pending_age_seconds(),
        )
        self._published_since_stats = 0


def _service_of(exc: BaseException) -> str:
    if isinstance(exc, PublishError):
        return RABBITMQ
    return POSTGRES if isinstance(exc, SQLAlchemyError | psycopg.Error) else OTHER


def _hint(exc: BaseException) -> dict[str, str]:
    """What to do, when the error says it: a database without the schema is not mended by retrying."""
    if missing_table(exc):
        return {"hint": "a table is missing: is this the right database, migrated (docfleet migrate)?"}
    return {}


def _describe(exc: BaseException) -> str:
    """The error's type and first line: enough to act on, without a multi-line driver message."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
