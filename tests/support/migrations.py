"""Alembic run against a test database, one revision at a time, for the migrations' own tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine.reflection import Inspector

from adapters.postgres.engine import create_single_use_engine
from adapters.postgres.migrations import alembic_config


def alembic(url: str, action: str, revision: str) -> None:
    """``alembic <action> <revision>`` (``upgrade`` or ``downgrade``) on the database at ``url``."""
    config = alembic_config()
    engine = create_single_use_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def names_in(url: str, listed: Callable[[Inspector], Iterable[Mapping[str, object]]]) -> set[str]:
    """The names of what ``listed`` reflects from the database at ``url``, e.g. a table's indexes."""
    engine = create_single_use_engine(url)
    try:
        with engine.connect() as connection:
            return {str(item["name"]) for item in listed(inspect(connection))}
    finally:
        engine.dispose()
