"""``docfleet bulk FILE.jsonl``: every line checked first, then sent in confirmed batches, with progress."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from workers.cli.failures import CliError, ExitCode, load_settings
from workers.cli.output import console, counted

if TYPE_CHECKING:
    from workers.cli.bulk_input import Scan
    from workers.cli.bulk_send import Outcome


def register(app: typer.Typer) -> None:
    app.command(short_help="Send many commands from a JSON Lines file.")(bulk)


def bulk(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", exists=True, dir_okay=False, readable=True, help="A .jsonl file."),
    ],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Send the valid lines even if some are not.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Messages per confirmed batch.")] = 500,
) -> None:
    """Send many commands from a JSON Lines file: one {"actor": ..., "kwargs": {...}} object a line.

    Every line is validated first; if any is invalid, each one is told by its number and nothing is sent
    (exit 2), unless --skip-invalid. A line may carry a "message_id": sending the file again is then safe.
    Ends with what was sent, rejected and failed, and the send rate; exit 4 if any line was not sent.

    \b
    Example:
      echo '{"actor": "add_member", "kwargs": {"org_id": "acme", "user_id": "alice"}}' > members.jsonl
      docfleet bulk members.jsonl
    """
    from workers.cli.bulk_send import send_all
    from workers.client import DocfleetClient

    settings = load_settings()
    with _readable_twice(file) as readable:
        found = _checked(readable)
        _tell_rejected(found)
        if found.rejected and not skip_invalid:
            invalid = counted(found.rejected, "invalid line")
            message = f"{invalid}: nothing sent (fix them, or pass --skip-invalid)"
            raise CliError(message, ExitCode.USAGE)
        with DocfleetClient.from_settings(settings, name="docfleet-bulk") as client:
            outcome = send_all(client, readable, found.valid, batch_size)
    changed = outcome.stopped is None and outcome.digest != found.digest
    outcome.rejected = found.rejected
    _tell_failed(outcome)
    typer.echo(outcome.summary())
    if outcome.stopped is not None:  # what was sent and not taken before is told above all the same
        raise CliError(outcome.stopped, outcome.stopped_code)
    if changed:  # the lines sent are not all those checked: some may be invalid, or told for others
        raise CliError(
            f"the file changed while it was sent: the lines sent may not be the {found.valid} valid lines"
            " checked; send it again once it is written, with a message_id on each line"
        )
    if outcome.rejected or outcome.failed:
        raise typer.Exit(ExitCode.INCOMPLETE)


@contextmanager
def _readable_twice(file: Path) -> Iterator[Path]:
    """``file``, or, when it can be read only once (a pipe, ``/dev/stdin``), a copy of it: the lines are
    read once to check them, then again to send them."""
    if file.is_file():
        yield file
        return
    with tempfile.TemporaryDirectory(prefix="docfleet-bulk-") as directory:
        copy = Path(directory) / "input.jsonl"
        with file.open("rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target)
        yield copy


def _checked(file: Path) -> Scan:
    from workers.cli.bulk_input import scan

    with Progress(
        TextColumn("checking"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
    ) as progress:
        task = progress.add_task("checking", total=file.stat().st_size)
        return scan(file, lambda size: progress.advance(task, size))


def _tell_rejected(found: Scan) -> None:
    for rejection in found.told:
        typer.echo(f"line {rejection.number}: {rejection.why}", err=True)
    if found.rejected > len(found.told):
        typer.echo(f"... and {found.rejected - len(found.told)} more invalid lines", err=True)


def _tell_failed(outcome: Outcome) -> None:
    """Every line not taken, by number: the first one by one, the others in runs, by why."""
    for failure in outcome.failures:
        typer.echo(failure, err=True)
    for why, numbers in outcome.more_failures.items():
        typer.echo(f"lines {numbers}: {why}", err=True)
