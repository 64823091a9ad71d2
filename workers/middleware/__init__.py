"""docfleet's cross-cutting concerns, each a Dramatiq middleware; ``docfleet_middleware`` lists them in order.

Registered before Dramatiq's own (``workers.broker``), so that their ``after_*`` hooks run after Retries.
"""

from __future__ import annotations

from dramatiq.middleware import Middleware

from workers.middleware.boot_heap import FreezeBootObjects
from workers.middleware.envelope import EnvelopeEncoder, SizeLimit, UnreadableMessage
from workers.middleware.lane import RedeliveredOneAtATime
from workers.middleware.log_context import LogContext, ProcessLogging
from workers.middleware.metrics import Metrics
from workers.middleware.outage import PostgresOutage
from workers.middleware.outcomes import Outcomes, note_outcome
from workers.middleware.redeliveries import RedeliveryLimit
from workers.middleware.replaced_lines import quiet_replaced_lines
from workers.middleware.resources import OpenApplication, Resources, current_application
from workers.middleware.retries import RetryPolicy, failure_kind
from workers.middleware.signals import GracefulStop

__all__ = [
    "EnvelopeEncoder",
    "FreezeBootObjects",
    "GracefulStop",
    "LogContext",
    "Metrics",
    "OpenApplication",
    "Outcomes",
    "ProcessLogging",
    "RedeliveredOneAtATime",
    "Resources",
    "RetryPolicy",
    "SizeLimit",
    "UnreadableMessage",
    "current_application",
    "docfleet_middleware",
    "failure_kind",
    "note_outcome",
    "quiet_replaced_lines",
]


def docfleet_middleware(
    resources: Resources,
    *,
    log_level: str | None = None,
    metrics: bool = False,
    freeze_boot_objects: bool = False,
) -> list[Middleware]:
    """Messages delivered again one at a time first (a turn ends after every other hook), the logging
    context (every later line carries it), then resources (and the boot's objects frozen once they are
    open), the wait while Postgres is away, outcomes, the size and redelivery limits.

    ``log_level`` set: structlog is configured in each worker process after it boots. ``metrics``: each
    worker process counts into the fleet's Prometheus metrics, served by a process Dramatiq forks.
    ``freeze_boot_objects``: for worker processes of their own, not a test's (``FreezeBootObjects``).
    """
    outcomes = Outcomes(resources)
    boot: list[Middleware] = [] if log_level is None else [ProcessLogging(log_level)]
    frozen: list[Middleware] = [FreezeBootObjects()] if freeze_boot_objects else []
    counting: list[Middleware] = [Metrics()] if metrics else []
    redeliveries = RedeliveryLimit(resources)
    turns = RedeliveredOneAtATime(on_turn_end=redeliveries.turn_ended)
    limits = [SizeLimit(outcomes), redeliveries]
    return [
        turns,
        *boot,
        GracefulStop(),
        *counting,
        LogContext(),
        resources,
        *frozen,
        PostgresOutage(resources),
        outcomes,
        *limits,
    ]
