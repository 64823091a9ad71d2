"""``docfleet inbox prune``: forgetting the message ids processed long ago."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from workers.cli.ages import parse_age
from workers.cli.failures import load_settings
from workers.cli.output import command_group
from workers.client.envelopes import DEAD_LETTER_TTL_MS

inbox_app = command_group(
    "The message ids already processed, which make a second delivery a duplicate.",
    "The message ids already processed: prune old ones.",
)
# A message can come back as long as RabbitMQ holds it: redelivered within minutes (a lost connection, a
# retry), or as a dead letter for DEAD_LETTER_TTL_MS (7 days), which ``dlq replay`` takes for unused if
# its id is forgotten. A day more, for a fleet stopped over a weekend with unacked messages.
MIN_RETENTION = timedelta(milliseconds=DEAD_LETTER_TTL_MS) + timedelta(days=1)


def register(app: typer.Typer) -> None:
    app.add_typer(inbox_app, name="inbox")


@inbox_app.command("prune", short_help="Delete the inbox rows past their retention.")
def prune(
    older_than: Annotated[
        str,
        typer.Option("--older-than", help="Forget ids processed longer ago than this: 30d, 8d at least."),
    ] = "30d",
) -> None:
    """Delete the inbox rows of messages processed longer ago than --older-than.

    Every command message leaves its id in the inbox, so that a second delivery is acked as a duplicate;
    nothing else removes them. A message delivered again after its id is forgotten would run again, and
    `dlq replay` takes a dead letter whose id is forgotten for one never used: keep them longer than dead
    letters are kept (7 days; at least 8d here) and than any producer could send a message again (default
    30 days). The pass reads the table once, in short transactions. Run it daily, e.g. from cron.

    \b
    Example:
      docfleet inbox prune --older-than 30d
    """
    from adapters.postgres.engine import single_use_engine
    from adapters.postgres.inbox_retention import prune_processed

    age = parse_age(older_than)
    if age < MIN_RETENTION:
        raise typer.BadParameter(
            f"at least {MIN_RETENTION.days}d: dead letters are kept 7 days, and a replayed one must still"
            " find its id",
            param_hint="'--older-than'",
        )
    with single_use_engine(load_settings().database_url, application_name="docfleet-inbox") as engine:
        deleted = prune_processed(engine, age)
    typer.echo(f"deleted {deleted} inbox rows older than {older_than}")
