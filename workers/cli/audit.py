"""``docfleet audit``: the reference consumer of doc.events (docs/audit-consumer.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from workers.cli.failures import load_settings


def register(app: typer.Typer) -> None:
    app.command(short_help="Record every event on doc.events in audit_log.")(audit)


def audit(
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="Events written per transaction.")] = 100,
) -> None:
    """Record every event published on doc.events in the audit_log table, once each, until SIGTERM or SIGHUP.

    Consumes its own durable queue (AUDIT_QUEUE, bound to every routing key); a malformed event goes to
    <AUDIT_QUEUE>.XQ. While Postgres or RabbitMQ is unreachable it logs, waits and tries again. Run
    `docfleet migrate` first: the audit_log table comes with the migrations. Started on a database
    without this version's schema, or one it cannot reach, it logs why and exits 75, as a worker does.

    \b
    Example:
      docfleet audit --batch-size 100
    """
    import structlog

    from workers.audit import AuditOptions, run_audit
    from workers.logging import configure_logging
    from workers.schema_gate import require_schema
    from workers.stopping import STOP_SIGNALS, SignalStop

    settings = load_settings()
    configure_logging(settings.log_level)
    # Checked once, at the start: the first event would find a wrong or unmigrated database otherwise.
    require_schema(settings.database_url, structlog.get_logger("docfleet.audit"))
    stop = SignalStop().install(STOP_SIGNALS)
    run_audit(settings, stop, options=AuditOptions(batch_size=batch_size, prefetch=2 * batch_size))
