"""What every command shares: its command groups, rich consoles and tables that print text as it is."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text


class Registrar(Protocol):
    """A module of commands: ``register(app)`` adds its commands or its group to the ``docfleet`` app."""

    def register(self, app: typer.Typer) -> None: ...


def command_group(help_text: str, short_help: str | None = None) -> typer.Typer:
    """A group of subcommands (``docfleet <group> <command>``), set up as the root app is; ``short_help``
    for ``docfleet --help``'s list, where ``help_text`` is longer than a line."""
    return typer.Typer(
        help=help_text,
        short_help=short_help,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that prints text literally: no markup, emoji codes or highlighting.

    Off a terminal it is as wide as ``COLUMNS`` says, and long cells fold to it; without ``COLUMNS``
    nothing folds: a value split over two lines of a pipe is two broken values.
    """
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, width=_width())


WHOLE_AT_MOST = 40  # characters: a UUID's 36 and then some; a longer id folds, so nothing of it is lost


def table(*columns: str, title: str | None = None, whole: str | None = None) -> Table:
    """Long cells fold, but the column ``whole`` names (an id an operator copies into the next command),
    which the others make room for: a message id folded in two, through a pipe, is two broken ids. Only
    while its cells are at most ``WHOLE_AT_MOST`` long: rich crops a cell that a column kept whole cannot
    hold, and the longest ids (128 characters) would not fit beside the other columns."""
    grid = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold", no_wrap=column == whole)
    return grid


def counted(count: int, noun: str) -> str:
    """``1 dead letter``, ``2 dead letters``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def add_row(grid: Table, values: Iterable[object]) -> None:
    cells = [Text("-" if value is None else printable(str(value), newlines=False)) for value in values]
    for column, cell in zip(grid.columns, cells, strict=False):
        if column.no_wrap and cell.cell_len > WHOLE_AT_MOST:
            column.no_wrap = False  # folded whole rather than cropped
    grid.add_row(*cells)


def print_json(data: Any) -> None:
    typer.echo(printable(json.dumps(data, indent=2, ensure_ascii=False, default=_as_json)))


def _as_json(value: Any) -> Any:
    """A time as RFC 3339 (``2026-05-01T12:00:00+00:00``), as every time docfleet sends; else its text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def printable(text: str, *, newlines: bool = True) -> str:
    """``text`` with every character a terminal would act on, or that no UTF-8 output can carry, as a
    ``\\uXXXX`` escape: a dead letter or a forged event must not set the title, clear the screen or
    print what looks like docfleet's own text. Inside a JSON string the escape means the same. Without
    ``newlines``, a newline is escaped too: the text stays on one line."""
    escaped = _UNPRINTABLE.sub(_escaped, text)
    return escaped if newlines else escaped.replace("\n", "\\u000a")


# Control characters (C0 but the newline, DEL, C1), bidirectional controls, and half a surrogate pair (a
# dead letter's JSON may escape one).
_UNPRINTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


MIN_WIDTH = 20  # narrower, and a table has no room for its columns: COLUMNS is taken for unset
PIPE_WIDTH = 10_000  # off a terminal without COLUMNS: a row stays on its line for grep and awk


def _width() -> int | None:
    if sys.stdout.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and len(columns) <= 5 else 0
    return width if width >= MIN_WIDTH else PIPE_WIDTH
