"""``docfleet dlq``: the dead letters of documents.XQ and documents-queries.XQ, listed, shown, replayed,
purged. Listing and showing give every message back to its queue, in its place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from workers.cli.failures import CliError, ExitCode, load_settings
from workers.cli.output import add_row, command_group, console, print_json, table

if TYPE_CHECKING:
    from adapters.rabbitmq.dead_letters import DeadLetterQueues
    from workers.cli.dead_letters import Inspected

dlq_app = command_group(
    "Dead letters: the messages that will not be applied as sent (docs/contract.md §8).",
    "Dead letters: list, show, replay or purge them.",
)


class Origin(StrEnum):
    documents = "documents"
    documents_queries = "documents-queries"


QueueOption = Annotated[
    Origin | None, typer.Option("--queue", help="Only the dead letters of this queue [default: both].")
]


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")


def dead_letter_queues(origin: Origin | None) -> list[str]:
    """Dramatiq's ``<queue>.XQ`` of each queue asked for."""
    return [f"{queue.value}.XQ" for queue in Origin if origin is None or origin == queue]


@contextmanager
def opened() -> Iterator[DeadLetterQueues]:
    from adapters.rabbitmq.dead_letters import DeadLetterQueues

    with DeadLetterQueues(load_settings().amqp_url, name="docfleet-dlq") as queues:
        yield queues


@dlq_app.command("ls")
def list_dead_letters(
    queue: QueueOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many per queue, oldest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
) -> None:
    """List dead letters with why each one died, leaving them in place.

    \b
    Examples:
      docfleet dlq ls
      docfleet dlq ls --queue documents --limit 20 --json
    """
    from workers.cli.dead_letters import inspect
    from workers.cli.dlq_history import history_for

    found: dict[str, tuple[int, list[Inspected]]] = {}
    with history_for(load_settings(), strict=False) as history, opened() as queues:
        for xq in dead_letter_queues(queue):
            # Counted first: browsed letters go back to their queue a moment after, uncounted meanwhile.
            ready = queues.count(xq) or 0
            letters = queues.browse(xq, limit=limit)
            found[xq] = (
                max(ready, len(letters)),
                [inspect(letter, history, history.redeliveries, history.answer_ttl_ms) for letter in letters],
            )
    if as_json:
        print_json({xq: [item.summary() for item in items] for xq, (_, items) in found.items()})
        return
    out = console()
    for xq, (count, items) in found.items():
        columns = ("message id", "actor", "retries", "dead since", "replay", "reason")
        grid = table(*columns, title=f"{xq}: {count}", whole="message id")
        for item in items:
            replay = item.replay_word()
            add_row(grid, [item.name, item.actor, item.retries, item.died_at, replay, item.reason])
        out.print(grid if items else f"{xq}: 0")
        if count > len(items):
            out.print(f"(the first {len(items)} of {count}: --limit to see more)")


@dlq_app.command("show", short_help="Show one dead letter, why it died and its body.")
def show_dead_letter(
    name: Annotated[
        str,
        typer.Argument(
            metavar="ID", help="The message id of the dead letter, or sha256:DIGITS as `dlq ls` shows it."
        ),
    ],
    queue: QueueOption = None,
) -> None:
    """Show one dead letter: why it died, whether it can be replayed, and its body; it stays in place.

    \b
    Examples:
      docfleet dlq show 9d7e1c55-0a4b-4e8f-b1c2-6a3d5e7f9b02
      docfleet dlq show sha256:5f1c2a9e0b7d4c21
    """
    from workers.cli.dead_letters import inspect
    from workers.cli.dlq_history import history_for
    from workers.cli.letter_names import NamedLetters, digest_hint, problem_with

    problem = problem_with(name)
    if problem is not None:
        raise CliError(problem, ExitCode.USAGE)
    named = NamedLetters({name})
    with history_for(load_settings(), strict=False) as history, opened() as queues:
        for xq in dead_letter_queues(queue):
            letters = queues.browse(xq, until=named)
            if named.found:
                item = inspect(letters[-1], history, history.redeliveries, history.answer_ttl_ms)
                body = letters[-1].body.decode(errors="replace")
                print_json({**item.summary(), "replayable": item.replayable, "body": item.envelope or body})
                return
    raise CliError(f"no dead letter named {name!r}{digest_hint(name)}")


@dlq_app.command("replay", short_help="Put dead letters back on their queue.")
def replay(
    message_ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]...", help="The dead letters.")
    ] = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Every dead letter that can be replayed.")
    ] = False,
    queue: QueueOption = None,
    new_id: Annotated[
        bool,
        typer.Option(
            "--new-id",
            help="Send again, under a new message id, those whose id was used but that are valid as they "
            "are (not found after their retries, their folder or document since made; or sent under an "
            "id another command had used).",
        ),
    ] = False,
) -> None:
    """Put dead letters back on the queue they came from, with their message id and fresh retries.

    Only a message whose id was never used can be replayed (one dead-lettered after faults); the others
    (invalid, rejected, unreadable) stay, each told with why: fix and send them with a new message id.
    With --new-id, a valid one whose id was used (not found after its retries, or sent under an id
    another command had used) goes back under a new id, as a new command. Exit 4 if one named stays or
    is not found; with --all, those that stay are told and do not make it fail.

    \b
    Examples:
      docfleet dlq replay 9d7e1c55-0a4b-4e8f-b1c2-6a3d5e7f9b02
      docfleet dlq replay --all --queue documents
      docfleet dlq replay --new-id 0e3c6b0a-1f0e-4d3a-9a57-2f3c1e8d9b10
    """
    if bool(message_ids) == replay_all:
        raise CliError(
            "name the dead letters to replay by message id, or pass --all (not both)", ExitCode.USAGE
        )
    from workers.cli.dlq_history import history_for
    from workers.cli.dlq_replay import ReplaySelection

    with history_for(load_settings(), strict=True) as history, opened() as queues:
        selection = ReplaySelection(history, set(message_ids or ()), every=replay_all, new_id=new_id)
        for xq in dead_letter_queues(queue):
            queues.move(xq, selection.decide, selection.moved)
    selection.tell()


@dlq_app.command("purge", short_help="Delete dead letters for good.")
def purge(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[ID]...",
            help="Only these dead letters: message ids, or sha256:DIGITS as `dlq ls` shows a letter"
            " without a readable one [default: every dead letter].",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Yes, delete them for good.")] = False,
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            help="Delete nothing unless the dead letters are still those `dlq purge` alone counted: pass "
            "the N:FINGERPRINT it tells (or only N, to compare the count alone).",
        ),
    ] = None,
    queue: QueueOption = None,
) -> None:
    """Delete dead letters for good: every one (of both queues, or of --queue), or those named.

    Without --yes, only says how many that is; for every dead letter, with their fingerprint (the count
    alone past 10,000 letters): pass both as --expect, and nothing is deleted if dead letters left or
    arrived in between. Named ones are deleted with every copy under the same message id; exit 4 when a
    name found none.

    \b
    Examples:
      docfleet dlq purge --queue documents-queries --yes --expect 3:5f1c2a9e
      docfleet dlq purge --yes 9d7e1c55-0a4b-4e8f-b1c2-6a3d5e7f9b02 sha256:5f1c2a9e0b7d4c21
    """
    from workers.cli.dlq_purge import purge_every, purge_named

    if names and expect is not None:
        told = "--expect is for deleting every dead letter: named ones are deleted by their names"
        raise CliError(told, ExitCode.USAGE)
    with opened() as queues:
        if names:
            purge_named(queues, dead_letter_queues(queue), set(names), yes=yes)
        else:
            purge_every(queues, dead_letter_queues(queue), yes=yes, expect=expect)
