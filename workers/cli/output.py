"""What every command shares: its command groups, rich consoles and tables that print text as it is."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, Protocol

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text


class Registrar(Protocol):
    """A module of commands: ``register(app)`` adds its commands or its group to the ``docfleet`` app."""

    def register(self, app: typer.Typer) -> None: ...


def command_group(help_text: str) -> typer.Typer:
    """A group of subcommands (``docfleet <group> <command>``), set up as the root app is."""
    return typer.Typer(
        help=help_text, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None
    )


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that prints text literally: no markup, emoji codes or highlighting.

    Off a terminal it is as wide as ``COLUMNS`` says, 100 columns by default, and long cells fold.
    """
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, width=_width())


def table(*columns: str, title: str | None = None) -> Table:
    grid = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def add_row(grid: Table, values: Iterable[object]) -> None:
    grid.add_row(*(Text("-" if value is None else str(value)) for value in values))


def print_json(data: Any) -> None:
    typer.echo(_LONE_SURROGATE.sub(_escaped, json.dumps(data, indent=2, ensure_ascii=False, default=str)))


# Half a surrogate pair: a dead letter's JSON may escape one, which no UTF-8 output can carry as it is.
# It can stand only inside a JSON string, where its escape means the same.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


MIN_WIDTH = 20  # narrower, and a table has no room for its columns: COLUMNS is taken for unset


def _width() -> int | None:
    if sys.stdout.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and len(columns) <= 5 else 0
    return width if width >= MIN_WIDTH else 100
