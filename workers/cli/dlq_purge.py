"""What ``docfleet dlq purge`` deletes: every dead letter, as counted first, or those named."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from workers.cli.failures import CliError, ExitCode
from workers.cli.letter_names import NamedLetters, digest_hint, message_id_of, problem_with
from workers.cli.output import counted, printable
from workers.dead_letter_names import body_digest, digest_name

if TYPE_CHECKING:
    from adapters.rabbitmq.dead_letters import DeadLetter, DeadLetterQueues

# Each letter is taken and given back to be fingerprinted; past this many, RabbitMQ's requeueing of them
# all takes long (about 1.4 s for 5,000, 15 s for 20,000 here), so only the count is told.
FINGERPRINT_MAX_LETTERS = 10_000


def purge_every(queues: DeadLetterQueues, xqs: list[str], *, yes: bool, expect: str | None) -> None:
    """Every letter of the queues ``xqs``; with ``expect``, only if they are still those counted."""
    wanted = _parsed_expectation(expect)
    fingerprinted = not yes or (wanted is not None and ":" in wanted)
    look = _look(queues, xqs, fingerprinted=fingerprinted)
    if not yes:
        how_many = counted(look.total, "dead letter")
        raise CliError(
            f"this deletes {how_many} for good: pass --yes (and --expect {look.token})", ExitCode.USAGE
        )
    if wanted is not None and wanted not in (look.token, str(look.total)):
        raise CliError(f"the dead letters are {look.token} now, not {wanted}: nothing deleted")
    for xq, ready in look.counted.items():
        # With --expect, only the letters counted: the first of each queue, those that arrived first.
        purged = queues.delete_first(xq, ready) if wanted is not None else queues.purge(xq)
        typer.echo(f"purged {purged} from {xq}")


def purge_named(queues: DeadLetterQueues, xqs: list[str], names: set[str], *, yes: bool) -> None:
    """The letters of the queues ``xqs`` that ``names`` name (every letter under a message id); exit 4
    when a name found none. Without ``yes``, lists them and deletes nothing."""
    problem = next((problem for name in sorted(names) if (problem := problem_with(name))), None)
    if problem is not None:
        raise CliError(problem, ExitCode.USAGE)
    chosen, found = NamedLetters(names), 0
    if yes:
        for xq in xqs:
            typer.echo(f"purged {queues.delete_chosen(xq, chosen)} from {xq}")
    else:
        found = sum(queues.count_chosen(xq, _listing(chosen)) for xq in xqs)
    for name in sorted(chosen.missing):
        held = "or held by another client, such as a dlq command at work"
        told = f"not found: {name}{digest_hint(name)} ({held})"
        typer.echo(printable(told, newlines=False), err=True)
    if not yes and found:
        raise CliError(f"this deletes {counted(found, 'dead letter')} for good: pass --yes", ExitCode.USAGE)
    if chosen.missing:
        raise typer.Exit(ExitCode.INCOMPLETE)


def _listing(chosen: NamedLetters) -> Callable[[DeadLetter], bool]:
    """``chosen``, printing each letter it accepts as ``dlq purge`` without --yes tells them."""

    def listed(letter: DeadLetter) -> bool:
        if not chosen(letter):
            return False
        message_id = message_id_of(letter)
        shown = f"{message_id} " if message_id is not None else ""
        typer.echo(
            printable(f"{letter.queue} {shown}{digest_name(body_digest(letter.body))}", newlines=False)
        )
        return True

    return listed


@dataclasses.dataclass(frozen=True)
class _Look:
    counted: dict[str, int]
    token: str  # "N:FINGERPRINT", or "N" without a fingerprint

    @property
    def total(self) -> int:
        return sum(self.counted.values())


def _look(queues: DeadLetterQueues, xqs: list[str], *, fingerprinted: bool) -> _Look:
    """How many dead letters each queue holds and, if ``fingerprinted`` and they are not too many, a
    fingerprint of every letter of each, in order."""
    counted_now = {xq: queues.count(xq) or 0 for xq in xqs}
    total = sum(counted_now.values())
    if not fingerprinted or total > FINGERPRINT_MAX_LETTERS:
        return _Look(counted_now, str(total))
    digest = hashlib.sha256()
    for xq, ready in counted_now.items():
        digest.update(f"{xq}\t{ready}\t{queues.digest(xq)}\n".encode())
    return _Look(counted_now, f"{total}:{digest.hexdigest()[:8]}")


def _parsed_expectation(expect: str | None) -> str | None:
    """``N:FINGERPRINT`` as given, or ``N`` without leading zeros (as ``_Look`` tells it)."""
    if expect is None:
        return None
    if not re.fullmatch(r"\d{1,18}(:[0-9a-f]{8})?", expect):
        told = f"--expect {expect!r}: give N:FINGERPRINT as `dlq purge` tells it, or N"
        raise CliError(told, ExitCode.USAGE)
    return expect if ":" in expect else str(int(expect))
