"""``docfleet outbox status``: what waits in the outbox, for how long, and how fast the relay publishes;
``docfleet outbox prune``: deleting published rows past their retention."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Annotated

import typer

from workers.cli.ages import parse_age
from workers.cli.failures import load_settings
from workers.cli.output import add_row, command_group, console, print_json, table

outbox_app = command_group("The transactional outbox, emptied onto doc.events by the relay.")
WINDOW = timedelta(minutes=1)
STATUS_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class OutboxStatus:
    pending: int
    oldest_pending_age_seconds: float | None
    published_last_minute: int

    @property
    def published_per_second(self) -> float:
        return self.published_last_minute / WINDOW.total_seconds()


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")


def read_status(database_url: str) -> OutboxStatus:
    from adapters.postgres.engine import single_use_engine
    from adapters.postgres.outbox import OutboxStore
    from adapters.postgres.outbox_throughput import published_within

    # As `docfleet health`'s: a lock on the outbox (a migration, a long transaction) must not leave the
    # command waiting as long as it lasts.
    with single_use_engine(
        database_url, statement_timeout_ms=STATUS_TIMEOUT_MS, application_name="docfleet-outbox"
    ) as engine:
        store = OutboxStore(engine)
        return OutboxStatus(
            pending=store.pending_count(),
            oldest_pending_age_seconds=store.oldest_pending_age_seconds(),
            published_last_minute=published_within(engine, WINDOW),
        )


@outbox_app.command("status", short_help="Show the events waiting and the relay's lag.")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False) -> None:
    """Show the events waiting to be published, the oldest one's age, and the relay's recent throughput.

    \b
    Example:
      docfleet outbox status
    """
    found = read_status(load_settings().database_url)
    if as_json:
        print_json({**asdict(found), "published_per_second": round(found.published_per_second, 2)})
        return
    age = found.oldest_pending_age_seconds
    grid = table("outbox", "value")
    add_row(grid, ["pending events", found.pending])
    add_row(grid, ["oldest pending", "-" if age is None else f"{age:.1f} s ago"])
    published = f"{found.published_last_minute} ({found.published_per_second:.1f}/s)"
    add_row(grid, ["published in the last minute", published])
    console().print(grid)


@outbox_app.command("prune", short_help="Delete published outbox rows past an age.")
def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Delete rows published longer ago than this: 7d, 12h, 30m.")
    ] = "7d",
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows deleted per transaction.")
    ] = 10_000,
) -> None:
    """Delete the outbox rows published longer ago than --older-than; unpublished rows are kept.

    Published rows are history only: the relay never reads them again. `dlq ls` and `dlq show` read the
    CommandRejected rows among them to say why a message was dead-lettered, so those are kept at least
    8 days (dead letters stay 7), whatever --older-than says. Run it daily, e.g. from cron.

    \b
    Example:
      docfleet outbox prune --older-than 7d
    """
    from adapters.postgres.engine import single_use_engine
    from adapters.postgres.outbox_retention import prune_published

    age = parse_age(older_than)
    with single_use_engine(load_settings().database_url, application_name="docfleet-outbox") as engine:
        deleted = prune_published(engine, age, batch_size=batch_size)
    typer.echo(f"deleted {deleted} published outbox rows older than {older_than}")
