"""The ``docfleet`` command: run the fleet, send commands, look at dead letters, the outbox, health.

Each module of ``workers.cli`` that adds commands has a ``register(app)`` function; to add one, import it
below and name it in ``COMMAND_MODULES``. Expected failures (a service down, a bad argument or setting, a
refusal) print one line on stderr, ``docfleet: ...``, and exit with the code ``failures.ExitCode`` names.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from workers.cli import audit, bulk, commands, dlq, events, fleet, folders, health, inbox, outbox, supervise
from workers.cli.failures import ExitCode, explain
from workers.cli.output import Registrar

try:
    from typer import TyperException as _UsageProblem
except ImportError:  # typer releases that use click itself
    from click import ClickException as _UsageProblem  # type: ignore[assignment]

COMMAND_MODULES: tuple[Registrar, ...] = (
    fleet,
    events,
    commands,
    folders,
    bulk,
    dlq,
    outbox,
    inbox,
    health,
    audit,
    supervise,
)


class DocfleetGroup(TyperGroup):
    """Turns an expected failure of any command into one line on stderr and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, _UsageProblem):
            raise
        except KeyboardInterrupt:  # typer would turn it into exit 130 without a word
            typer.echo("docfleet: interrupted", err=True)
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except Exception as error:
            explained = explain(error)
            if explained is None:
                raise
            message, code = explained
            typer.echo(f"docfleet: {message}", err=True)
            raise typer.Exit(code) from None


app = typer.Typer(
    name="docfleet",
    help="docfleet: a document-management backend run as a fleet of message-driven workers.",
    cls=DocfleetGroup,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
for module in COMMAND_MODULES:
    module.register(app)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"docfleet {version('docfleet')}")
        raise typer.Exit(0)


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print docfleet's version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """docfleet: a document-management backend run as a fleet of message-driven workers."""


_VALIDATOR_PREFIX = "Value error, "


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: runs one command, turning expected failures into one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    try:
        code = app(args=args, prog_name="docfleet", standalone_mode=False)
    except _UsageProblem as problem:
        message = " ".join(problem.format_message().split())  # "Choose from:" lists a choice a line
        message = message.replace(_VALIDATOR_PREFIX, "")  # typer's coercion names its validator's kind
        hint = _help_hint(problem)
        told = f"{message.rstrip('.')}.{hint}" if hint else message
        _exit(f"error: {told}", getattr(problem, "exit_code", ExitCode.USAGE))
    except (typer.Abort, KeyboardInterrupt):
        _exit("interrupted", ExitCode.INTERRUPTED)
    raise SystemExit(code if isinstance(code, int) else 0)


def _help_hint(problem: Exception) -> str:
    """`` See 'docfleet upload --help'.`` after a usage error of a command: click reports one missing
    option at a time, and the help lists them all."""
    context = getattr(problem, "ctx", None)
    path = getattr(context, "command_path", None)
    return f" See '{path} --help'." if isinstance(path, str) and path else ""


def _exit(message: str, code: int) -> None:
    typer.echo(f"docfleet: {message}", err=True)
    raise SystemExit(code)
