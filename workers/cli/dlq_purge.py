"""What ``docfleet dlq purge`` deletes: every dead letter, as counted first, or those named."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import TYPE_CHECKING

import typer

from workers.cli.failures import CliError, ExitCode
from workers.cli.letter_names import NamedLetters, problem_with
from workers.cli.output import counted, printable

if TYPE_CHECKING:
    from adapters.rabbitmq.dead_letters import DeadLetterQueues

# Each letter is taken and given back to be fingerprinted; past this many, RabbitMQ's requeueing of them
# all takes long (about 1.4 s for 5,000, 15 s for 20,000 here), so only the count is told.
FINGERPRINT_MAX_LETTERS = 10_000


def purge_every(queues: DeadLetterQueues, names: list[str], *, yes: bool, expect: str | None) -> None:
    """Every letter of the queues ``names``; with ``expect``, only if they are still those counted."""
    wanted = _parsed_expectation(expect)
    fingerprinted = not yes or (wanted is not None and ":" in wanted)
    look = _look(queues, names, fingerprinted=fingerprinted)
    if not yes:
        how_many = counted(look.total, "dead letter")
        told = f"this deletes {how_many} for good: pass --yes (and --expect {look.token})"
        raise CliError(told, ExitCode.USAGE)
    if wanted is not None and wanted not in (look.token, str(look.total)):
        raise CliError(f"the dead letters are {look.token} now, not {wanted}: nothing deleted")
    for xq, ready in look.counted.items():
        # With --expect, only the letters counted: the first of each queue, those that arrived first.
        purged = queues.delete_first(xq, ready) if wanted is not None else queues.purge(xq)
        typer.echo(f"purged {purged} from {xq}")


def purge_named(queues: DeadLetterQueues, names: list[str], letters: set[str], *, yes: bool) -> None:
    """The letters of the queues ``names`` that ``letters`` name (every copy under a message id); exit 4
    when a name found none. Without ``yes``, only says how many that is."""
    problem = next((problem for name in sorted(letters) if (problem := problem_with(name))), None)
    if problem is not None:
        raise CliError(problem, ExitCode.USAGE)
    chosen = NamedLetters(letters)
    if not yes:
        found = sum(1 for xq in names for letter in queues.browse(xq) if chosen(letter))
        raise CliError(f"this deletes {counted(found, 'dead letter')} for good: pass --yes", ExitCode.USAGE)
    for xq in names:
        typer.echo(f"purged {queues.delete_chosen(xq, chosen)} from {xq}")
    for name in sorted(chosen.missing):
        typer.echo(printable(f"not found: {name}", newlines=False), err=True)
    if chosen.missing:
        raise typer.Exit(ExitCode.INCOMPLETE)


@dataclasses.dataclass(frozen=True)
class _Look:
    counted: dict[str, int]
    token: str  # "N:FINGERPRINT", or "N" without a fingerprint

    @property
    def total(self) -> int:
        return sum(self.counted.values())


def _look(queues: DeadLetterQueues, names: list[str], *, fingerprinted: bool) -> _Look:
    """How many dead letters each queue holds and, if ``fingerprinted`` and they are not too many, a
    fingerprint of every letter of each, in order."""
    counted_now = {xq: queues.count(xq) or 0 for xq in names}
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
