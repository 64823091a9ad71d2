"""The audit consumer's metrics, served by its own process on ``AUDIT_METRICS_PORT``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge

from workers.metrics.exposition import serving
from workers.settings import Settings


class AuditMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry or CollectorRegistry()
        self.recorded = Counter(
            "docfleet_audit_events_recorded",
            "Events written to audit_log, counted at the commit, before the ack.",
            registry=registry,
        )
        self.duplicates = Counter(
            "docfleet_audit_duplicates_skipped",
            "Deliveries of an event already in audit_log (redelivered or sent twice): acked, not rewritten.",
            registry=registry,
        )
        self.dead_lettered = Counter(
            "docfleet_audit_dead_lettered",
            "Malformed events moved to the audit queue's dead-letter queue (<AUDIT_QUEUE>.XQ).",
            registry=registry,
        )
        self.reconnects = Counter(
            "docfleet_audit_reconnects",
            "Sessions ended by an error (RabbitMQ or Postgres unreachable, a write cancelled, the queue"
            " deleted), each followed by a new connection after the backoff.",
            registry=registry,
        )
        self.consuming = Gauge(
            "docfleet_audit_consuming",
            "1 while the consumer is registered on its queue; 0 while it reconnects (RabbitMQ or Postgres"
            " unreachable, a write cancelled), which its counters alone cannot tell from an idle stream.",
            registry=registry,
        )


@contextmanager
def audit_metrics(settings: Settings) -> Iterator[AuditMetrics]:
    """The consumer's metrics, served on ``audit_metrics_port`` inside the block when metrics are enabled."""
    metrics = AuditMetrics()
    if not settings.metrics_enabled:
        yield metrics
        return
    port, address = settings.audit_metrics_port, settings.metrics_bind_address
    with serving(metrics.registry, port, component="audit", address=address):
        yield metrics
