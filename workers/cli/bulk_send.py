"""The sending half of ``docfleet bulk``: the checked lines sent in confirmed batches, with progress, and
what became of each line (``workers.cli.bulk``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from adapters.rabbitmq.queue_publisher import OutgoingMessage
from workers.cli.bulk_input import Line, lines, new_digest
from workers.cli.failures import ExitCode
from workers.cli.output import console
from workers.client import DocfleetClient, NotSent

LISTED = 20  # lines told one by one; the others are counted


class LineRuns:
    """Line numbers, kept as runs of consecutive ones: a million lines refused alike take one run."""

    def __init__(self) -> None:
        self._runs: list[list[int]] = []

    def add(self, number: int) -> None:
        if self._runs and self._runs[-1][1] == number - 1:
            self._runs[-1][1] = number
        else:
            self._runs.append([number, number])

    def __str__(self) -> str:
        return ", ".join(f"{first}" if first == last else f"{first} to {last}" for first, last in self._runs)


@dataclass
class Outcome:
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    more_failures: dict[str, LineRuns] = field(default_factory=dict)  # past the first few, by why
    stopped: str | None = None  # why sending stopped before the end of the file
    stopped_code: ExitCode = ExitCode.FAILED
    digest: bytes = b""  # of the bytes the sending pass read, to compare with the checking pass's
    last_line_sent: int = 0
    unconfirmed: str | None = None  # the lines of a batch handed to RabbitMQ and not yet confirmed
    refused_batch: tuple[int, int, int, str] | None = None  # the last batch's, if RabbitMQ took none of it

    def summary(self) -> str:
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        counts = f"sent {self.sent}, rejected {self.rejected}, failed {self.failed}"
        return f"{counts} in {self.seconds:.1f} s ({rate:,.0f} messages/s)"


class _Stopped(Exception):
    """RabbitMQ was lost, or took none of a batch: no later line is sent."""


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("- msg/s" if speed is None else f"{speed:,.0f} msg/s")


def send_all(client: DocfleetClient, file: Path, total: int, batch_size: int) -> Outcome:
    outcome, digest = Outcome(), new_digest()
    batch: list[tuple[int, OutgoingMessage]] = []
    columns = (BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    started = time.monotonic()
    with Progress(TextColumn("sending"), *columns, console=console(stderr=True)) as progress:
        task = progress.add_task("sending", total=total)
        try:
            for item in lines(file, digest=digest):
                if isinstance(item, Line):
                    if outcome.refused_batch is not None:
                        _stop_after_refused_batch(outcome)
                    batch.append((item.number, item.prepared()))
                if len(batch) >= batch_size:
                    progress.advance(task, _send_batch(client, batch, outcome))
            if batch:
                progress.advance(task, _send_batch(client, batch, outcome))
        except _Stopped:
            pass
        except KeyboardInterrupt:  # told like a lost connection: what was sent, from which line it was not
            outcome.stopped = f"interrupted: {_not_sent(outcome, batch)} ({outcome.sent} sent before)"
            outcome.stopped_code = ExitCode.INTERRUPTED
    outcome.seconds = time.monotonic() - started
    outcome.digest = digest.digest()
    return outcome


def _send_batch(client: DocfleetClient, batch: list[tuple[int, OutgoingMessage]], outcome: Outcome) -> int:
    first, last = batch[0][0], batch[-1][0]
    outcome.unconfirmed = f"line {first}" if first == last else f"lines {first} to {last}"
    try:
        undelivered = client.send_prepared([message for _, message in batch])
    except NotSent as error:
        if not error.maybe_taken:
            outcome.unconfirmed = None
        # the reason alone: which lines to send again, and when that is safe, is told here and in docs/cli.md
        outcome.stopped = f"stopped: {_not_sent(outcome, batch)} ({outcome.sent} sent before): {error.reason}"
        raise _Stopped from None
    lines_of = {message.message_id: number for number, message in batch}
    for refusal in undelivered:
        outcome.failed += 1
        number = lines_of[refusal.message_id]
        if len(outcome.failures) < LISTED:
            outcome.failures.append(f"line {number}: {refusal.why}")
        else:
            outcome.more_failures.setdefault(refusal.why, LineRuns()).add(number)
    outcome.sent += len(batch) - len(undelivered)
    outcome.last_line_sent = batch[-1][0]
    count = len(batch)
    batch.clear()
    outcome.unconfirmed = None  # last: an interruption before it tells these lines as perhaps taken
    refused_whole = bool(undelivered) and len(undelivered) == count
    outcome.refused_batch = (first, last, count, undelivered[0].why) if refused_whole else None
    return count


def _stop_after_refused_batch(outcome: Outcome) -> None:
    """RabbitMQ took none of the last batch (a full queue refusing publishes, a queue gone), and a line
    follows it: the next batches would meet the same, so sending stops, rather than telling every later
    line refused."""
    if outcome.refused_batch is None:
        return
    first, last, count, why = outcome.refused_batch
    lines = f"line {first}" if count == 1 else f"the {count} lines sent from line {first} to {last}"
    outcome.stopped = (
        f"stopped: RabbitMQ took none of {lines}, nothing after them sent ({outcome.sent} sent before): {why}"
    )
    outcome.stopped_code = ExitCode.INCOMPLETE
    raise _Stopped


def _not_sent(outcome: Outcome, batch: list[tuple[int, OutgoingMessage]]) -> str:
    """Which lines were not confirmed: a batch cut short may already be in the queue, whole or in part."""
    if outcome.unconfirmed is not None:
        return f"{outcome.unconfirmed} not confirmed, perhaps taken; nothing after them sent"
    if batch:
        return f"nothing sent from line {batch[0][0]} on"
    return f"nothing sent after line {outcome.last_line_sent}"
