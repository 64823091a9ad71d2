"""``docfleet audit``: the reference consumer of doc.events, writing every event once into ``audit_log``.

The pattern for a consumer of docfleet's events (docs/audit-consumer.md): a durable queue of its own
(``AUDIT_QUEUE``) bound to ``doc.events`` with ``#``; manual acks and a bounded prefetch; each batch written
in one transaction with ``ON CONFLICT (event_id) DO NOTHING``, and its messages acked only after that
commit, so a crash between the two redelivers them and the second write changes nothing. A malformed
event is dead-lettered to ``<AUDIT_QUEUE>.XQ`` with a log line, never redelivered forever. RabbitMQ or
Postgres unavailable: it logs, backs off (bounded, exponential) and reconnects; what was not acked comes
again. Setting ``stop`` (SIGTERM, SIGHUP) commits and acks the batch in hand, then it returns.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import psycopg
import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from adapters.postgres.audit_log import AuditEvent, record_events
from adapters.postgres.engine import create_engine
from adapters.rabbitmq.connection import open_blocking_connection
from workers.audit_wire import Delivery, MalformedEvent, dead_letter_queue, declare_audit_queue, parse_event
from workers.backoff import Backoff
from workers.metrics.audit import AuditMetrics, audit_metrics
from workers.settings import Settings
from workers.stopping import StopFlag

log = structlog.get_logger("docfleet.audit")

RECOVERABLE_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPError,
    SQLAlchemyError,
    psycopg.Error,
    OSError,
)
# What Postgres refuses for an event's own content, by SQLSTATE class: data exceptions, integrity
# violations, program limits (an index row too large). Any other error is the connection's or the server's.
_REFUSING_CLASSES = ("22", "23", "54")


def refused_by_postgres(error: BaseException) -> bool:
    """Whether ``error`` is about the events written, not about reaching Postgres."""
    cause = getattr(error, "orig", None)  # what SQLAlchemy wrapped: the driver's error, or encoding's
    if isinstance(error, DataError | IntegrityError | RecursionError) or isinstance(cause, RecursionError):
        return True
    sqlstate = getattr(cause, "sqlstate", None) or ""
    return isinstance(error, SQLAlchemyError) and sqlstate[:2] in _REFUSING_CLASSES


Record = Callable[[Engine, Sequence[AuditEvent]], int]


@dataclass(frozen=True)
class AuditOptions:
    batch_size: int = 100
    prefetch: int = 200
    """Unacked deliveries RabbitMQ lets this consumer hold; bounds a batch too."""
    batch_wait: float = 0.2
    """Seconds a batch may wait to fill up before it is written."""
    backoff_initial: float = 0.5
    backoff_max: float = 15.0
    statement_timeout_ms: int = 10_000
    """How long a write may run or wait on a lock before it is cancelled, logged and tried again on a new
    session: a blocked ``audit_log`` must not hold the consumer silent, past SIGTERM and its heartbeats."""


def run_audit(
    settings: Settings, stop: StopFlag, *, options: AuditOptions | None = None, record: Record = record_events
) -> None:
    """Runs until ``stop`` is set; ``record`` writes a batch (tests wrap it to crash after a commit)."""
    options = options or AuditOptions()
    engine = create_engine(
        settings.database_url,
        pool_size=1,
        statement_timeout_ms=options.statement_timeout_ms,
        application_name="docfleet-audit",
    )
    try:
        with audit_metrics(settings) as metrics:
            AuditConsumer(settings, engine, stop, options, metrics, record).run()
    finally:
        engine.dispose()


class AuditConsumer:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        stop: StopFlag,
        options: AuditOptions,
        metrics: AuditMetrics,
        record: Record = record_events,
    ) -> None:
        self._amqp_url, self._queue = settings.amqp_url, settings.audit_queue
        self._engine, self._stop, self._options = engine, stop, options
        self._metrics, self._record = metrics, record
        self._backoff = Backoff(options.backoff_initial, options.backoff_max)
        self._pending: list[Delivery] = []
        self._first_at = 0.0

    def run(self) -> None:
        log.info("audit consumer started", queue=self._queue)
        while not self._stop.is_set():
            try:
                self._session()
            except RECOVERABLE_ERRORS as error:
                delay = self._backoff.next_delay()
                self._metrics.reconnects.inc()
                log.warning("audit consumer error, reconnecting", error=_describe(error), retry_in_s=delay)
                self._stop.wait(delay)
        log.info("audit consumer stopped")

    def _session(self) -> None:
        connection = open_blocking_connection(self._amqp_url, name="docfleet-audit")
        try:
            channel = connection.channel()
            declare_audit_queue(channel, self._queue)
            channel.basic_qos(prefetch_count=self._options.prefetch)
            cancelled: list[object] = []
            channel.add_on_cancel_callback(cancelled.append)
            channel.basic_consume(self._queue, self._on_delivery)
            log.info("audit consumer connected", queue=self._queue, prefetch=self._options.prefetch)
            self._metrics.consuming.set(1)
            self._pump(connection, channel, cancelled)
        finally:
            self._metrics.consuming.set(0)
            self._pending = []  # not acked: RabbitMQ delivers them again once this connection is gone
            with contextlib.suppress(*RECOVERABLE_ERRORS):
                if connection.is_open:
                    connection.close()

    def _pump(self, connection: Any, channel: Any, cancelled: list[object]) -> None:
        """Until a stop, or until RabbitMQ cancels the consumer (its queue deleted, or its node gone):
        pika then just stops delivering, so the session ends and the next declares the queue again."""
        while not self._stop.is_set() and not cancelled:
            connection.process_data_events(time_limit=self._options.batch_wait)
            while self._pending and self._batch_due():  # one read may bring several batches' worth
                self._flush(channel)
                self._backoff.reset()
        while self._pending:  # finish what is in hand: a deleted queue would not deliver it again
            self._flush(channel)
        if cancelled:
            raise pika.exceptions.ConsumerCancelled(f"RabbitMQ cancelled the consumer of {self._queue}")

    def _batch_due(self) -> bool:
        full = len(self._pending) >= self._options.batch_size
        return full or time.monotonic() - self._first_at >= self._options.batch_wait

    def _on_delivery(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        if not self._pending:
            self._first_at = time.monotonic()
        self._pending.append(Delivery(method.delivery_tag, method.routing_key, properties.message_id, body))

    def _flush(self, channel: Any) -> None:
        """Writes the oldest ``batch_size`` deliveries in one transaction, then acks them; malformed
        events are dead-lettered."""
        size = self._options.batch_size
        deliveries, self._pending = self._pending[:size], self._pending[size:]
        events: list[tuple[Delivery, AuditEvent]] = []
        for delivery in deliveries:
            try:
                events.append((delivery, parse_event(delivery.body, delivery.routing_key)))
            except MalformedEvent as problem:
                self._dead_letter(channel, delivery, str(problem))
            except Exception as error:  # a reading that failed unforeseen: one event, not a crash loop
                self._dead_letter(channel, delivery, f"could not be read: {_describe(error)}")
        stored = self._store(channel, events)
        if stored:
            channel.basic_ack(delivery_tag=max(stored), multiple=True)  # the others are settled already

    def _store(self, channel: Any, events: list[tuple[Delivery, AuditEvent]]) -> list[int]:
        """The delivery tags of the events now in the table (new or already there)."""
        if not events:
            return []
        try:
            self._count(len(events), self._record(self._engine, [event for _, event in events]))
        except (SQLAlchemyError, RecursionError) as error:
            if not refused_by_postgres(error):
                raise
            return self._store_each(channel, events)
        return [delivery.tag for delivery, _ in events]

    def _store_each(self, channel: Any, events: list[tuple[Delivery, AuditEvent]]) -> list[int]:
        """Postgres refused the batch for one of its events: one transaction per event finds which."""
        stored = []
        for delivery, event in events:
            try:
                self._count(1, self._record(self._engine, [event]))
            except (SQLAlchemyError, RecursionError) as error:
                if not refused_by_postgres(error):
                    raise
                self._dead_letter(channel, delivery, f"refused by Postgres: {_describe(error)}")
                continue
            stored.append(delivery.tag)
        return stored

    def _count(self, delivered: int, inserted: int) -> None:
        self._metrics.recorded.inc(inserted)
        self._metrics.duplicates.inc(delivered - inserted)
        log.info("recorded events", recorded=inserted, duplicates=delivered - inserted)

    def _dead_letter(self, channel: Any, delivery: Delivery, problem: str) -> None:
        # Declared again first: RabbitMQ drops a message dead-lettered to a queue that is gone (an operator
        # deleted it after reading it), where the log line below would still say it is there.
        channel.queue_declare(dead_letter_queue(self._queue), durable=True)
        channel.basic_nack(delivery_tag=delivery.tag, requeue=False)
        self._metrics.dead_lettered.inc()
        log.warning(
            "malformed event dead-lettered",
            queue=dead_letter_queue(self._queue),
            routing_key=delivery.routing_key[:255],
            message_id=(delivery.message_id or "")[:128],
            size=len(delivery.body),
            problem=problem[:500],
        )


def _describe(error: BaseException) -> str:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
