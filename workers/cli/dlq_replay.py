"""What ``docfleet dlq replay`` sends back, letter by letter as the queue gives them, and what it tells."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import typer

from workers.cli.failures import ExitCode
from workers.cli.letter_names import digest_hint
from workers.cli.output import printable

if TYPE_CHECKING:
    from adapters.rabbitmq.dead_letters import DeadLetter, Relocation
    from workers.cli.dead_letters import Inspected
    from workers.cli.dlq_history import HistoryLookup

ANOTHER_COPY_SENT = "another dead letter with this message id was replayed just now: this copy stays"


class ReplaySelection:
    """Chooses the letters to send back (``decide``) and hears of each one RabbitMQ took (``moved``)."""

    def __init__(self, history: HistoryLookup, wanted: set[str], *, every: bool, new_id: bool) -> None:
        self._history = history
        self._wanted = wanted
        self._every = every
        self._new_id = new_id
        self._chosen: dict[int, Inspected] = {}  # by the id of their relocation, until it is confirmed
        self._sent: set[tuple[str, str]] = set()  # one copy per queue and id (a new id: per command)
        self.replayed: list[Inspected] = []
        self.left: list[Inspected] = []

    def decide(self, letter: DeadLetter) -> Relocation | None:
        from workers.cli.dead_letters import inspect

        item = inspect(letter, self._history, self._history.redeliveries, self._history.answer_ttl_ms)
        if not self._every and item.message_id not in self._wanted:
            return None
        if item.replay is None and self._new_id:
            renewed = item.under_a_new_id()
            item = item if renewed is None else dataclasses.replace(item, replay=renewed, not_replayable=None)
        if item.replay is not None and (item.replay.queue, item.replay.message_id) in self._sent:
            item = dataclasses.replace(item, replay=None, not_replayable=ANOTHER_COPY_SENT)
        if item.replay is None:
            self.left.append(item)
        else:
            self._chosen[id(item.replay)] = item
            self._sent.add((item.replay.queue, item.replay.message_id))
            start_count_again(self._history, item.replay.message_id)
        return item.replay

    def moved(self, relocation: Relocation) -> None:
        item = self._chosen.pop(id(relocation))
        self.replayed.append(item)
        _tell_replayed(item)

    def tell(self) -> None:
        """The letters left, with why, those not found, and the counts; exit 4 if a letter named was not
        replayed. With --all, the letters that cannot be replayed as they are stay, told, and exit 0: a
        replay of every one that can be is complete once those are back."""
        missing = self._wanted - {item.message_id for item in [*self.replayed, *self.left]}
        tell_replay(self.replayed, self.left, missing, left_is_incomplete=not self._every)


def start_count_again(history: HistoryLookup, message_id: str) -> None:
    """Before the copy goes back, so that a redelivery the workers count once it is there stays counted.
    Left at its count, one ordinary redelivery (a restart) would dead-letter the replayed message again."""
    if not history.forget_redeliveries(message_id):
        told = f"docfleet: {message_id}: its redelivery count was not reset (Valkey did not answer)"
        typer.echo(printable(told, newlines=False), err=True)


def _tell_replayed(item: Inspected) -> None:
    """At once, so that a failure with the next one leaves a record of those already back."""
    sent_as = item.replay.message_id if item.replay is not None else item.message_id
    renamed = "" if sent_as == item.message_id else f" as {sent_as}"
    typer.echo(f"replayed {item.message_id}{renamed} ({item.actor}) to {item.queue.removesuffix('.XQ')}")


def tell_replay(
    replayed: list[Inspected], left: list[Inspected], missing: set[str], *, left_is_incomplete: bool
) -> None:
    for item in left:  # its reason may quote the letter's own text
        told = f"left {item.message_id or '(no message id)'}: {item.not_replayable}"
        typer.echo(printable(told, newlines=False), err=True)
    for message_id in sorted(missing):
        typer.echo(
            printable(
                f"not found: {message_id}{digest_hint(message_id, digests_taken=False)}", newlines=False
            ),
            err=True,
        )
    typer.echo(f"{len(replayed)} replayed, {len(left)} left, {len(missing)} not found")
    if (left and left_is_incomplete) or missing:
        raise typer.Exit(ExitCode.INCOMPLETE)
