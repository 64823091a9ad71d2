"""Running the fleet: ``docfleet migrate``, ``docfleet worker``, ``docfleet relay`` and ``docfleet demo``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workers.cli.failures import CliError, load_settings

if TYPE_CHECKING:
    from adapters.postgres.migrations import LockWait


def register(app: typer.Typer) -> None:
    app.command(short_help="Create the database if missing; bring its schema up to date.")(migrate)
    extra = {"allow_extra_args": True, "ignore_unknown_options": True}
    app.command(short_help="Run the worker processes that carry out commands.", context_settings=extra)(
        worker
    )
    app.command(short_help="Publish the outbox's committed events on doc.events.")(relay)
    app.command(short_help="Send a small scenario to the running fleet.")(demo)


def migrate() -> None:
    """Create the database if it is missing and bring its schema to the latest version; idempotent.

    A table lock the migration needs and does not get within 2 s (a long transaction holds the table)
    rolls it back, so that commands are not held up behind it; it is tried again, 6 times in all over
    about 40 s, each wait logged, then given up with exit 1.

    \b
    Example:
      DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/docfleet docfleet migrate
    """
    from adapters.postgres.migrations import (
        ForeignRevision,
        MigrationBlocked,
        MigrationRefused,
        UnknownRevision,
        create_database_if_missing,
        upgrade_to_head,
    )
    from workers.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)  # for the waits on table locks, if any
    database_url = settings.database_url
    if create_database_if_missing(database_url):
        typer.echo("created the database")
    try:
        upgrade_to_head(database_url, on_wait=_log_lock_wait)
    except UnknownRevision as ahead:
        # What a rolling deploy or a rollback meets, and the workers run on (docs/reliability.md): not a
        # failure, or a platform that starts them after this step (docker-compose.yml) never would.
        typer.echo(f"docfleet: {ahead}; nothing changed: this version's workers run on it", err=True)
        return
    except (MigrationBlocked, MigrationRefused, ForeignRevision) as stopped:
        raise CliError(str(stopped)) from None
    typer.echo("database schema is up to date")


def worker(context: typer.Context) -> None:
    """Run the worker processes: dramatiq workers.actors with the options given, each of Dramatiq's
    (``--processes``, ``--threads``, ``--worker-shutdown-timeout``...), logging as docfleet: JSON lines
    off a terminal, at ``LOG_LEVEL`` (Dramatiq's ``--verbose`` plays no part), on stderr.

    \b
    Example:
      docfleet worker --processes 2 --threads 32 --worker-shutdown-timeout 20000
    """
    from workers.cli.worker import run_worker

    raise typer.Exit(run_worker(context.args))


def _log_lock_wait(wait: LockWait) -> None:
    import structlog

    structlog.get_logger("docfleet.migrate").warning(
        "migration waited for a table lock: rolled back, to be tried again",
        waited_s=wait.lock_timeout_s,
        attempt=wait.attempt,
        attempts=wait.attempts,
        retry_in_s=wait.retry_in_s,
        hint="a long transaction holds a table this migration changes",
    )


def relay(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Events per publish round.")] = 500,
    poll_interval: Annotated[
        float,
        typer.Option(
            min=0.05,
            max=10.0,  # the connection to RabbitMQ answers its heartbeats (30 s) between two looks
            help="Seconds between looks at the outbox when no NOTIFY comes (at most 10).",
        ),
    ] = 1.0,
    busy_rate: Annotated[
        float,
        typer.Option(
            min=1.0,
            envvar="RELAY_BUSY_RATE",
            help="Events committing this fast a second (over 0.1 s at least) make the relay busy.",
        ),
    ] = 1000.0,
    busy_window_ms: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1000.0,
            envvar="RELAY_BUSY_WINDOW_MS",
            help="While busy, milliseconds between the starts of two batches; 0: none.",
        ),
    ] = 20.0,
) -> None:
    """Publish committed events from the outbox to RabbitMQ, in order, until SIGTERM, SIGHUP or Ctrl-C.

    Several relays may run at once: one publishes, the others stand by. While Postgres or RabbitMQ is
    unreachable it logs, waits and tries again. Under load it lets events gather for a few
    milliseconds between batches, so that each carries more of them and costs less CPU an event.

    \b
    Example:
      docfleet relay --batch-size 500
    """
    from workers.logging import configure_logging
    from workers.relay import RelayOptions, run_relay
    from workers.stopping import STOP_SIGNALS, SignalStop

    settings = load_settings()
    configure_logging(settings.log_level)
    stop = SignalStop().install(STOP_SIGNALS)
    options = RelayOptions(
        batch_size=batch_size,
        poll_interval=poll_interval,
        busy_rate=busy_rate,
        busy_window=busy_window_ms / 1000,
    )
    run_relay(settings, stop, options=options)


def demo(
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds to wait for each step's event.")] = 30.0,
) -> None:
    """Send a small scenario to the running fleet and print the events it produces.

    Adds two members to a new organization, creates a folder, uploads a document and shares it, each
    step awaited through its event on doc.events; then prints the DocumentShared event.

    \b
    Example (with `make run` going in another terminal):
      docfleet demo
    """
    from adapters.rabbitmq.subscription import EventSubscription
    from workers.cli.demo import PATTERNS, run_demo
    from workers.client import DocfleetClient

    settings = load_settings()
    with (
        EventSubscription(settings.amqp_url, PATTERNS, name="docfleet-demo") as tap,
        DocfleetClient.from_settings(settings, name="docfleet-demo") as client,
    ):

        def send(actor_name: str, kwargs: dict[str, Any]) -> None:
            client.send(actor_name, kwargs)

        shared = run_demo(send, tap, timeout, typer.echo)
    typer.echo("DocumentShared received:")
    typer.echo(json.dumps(shared.payload(), indent=2))
