"""Alembic's environment: runs the migrations on the connection handed over, or on the configured URL.

It configures no logging, so running migrations inside a worker leaves the worker's logging alone.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from adapters.postgres.engine import single_use_engine
from adapters.postgres.tables import metadata


def _configured_url() -> str | None:
    return context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")


def _run_on(connection: Connection) -> None:
    """Each migration in a transaction of its own, with its revision's stamp: the locks one takes (an
    index build's on its table, say) are let go before the next begins, rather than held to the end."""
    context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_offline() -> None:
    """Prints the SQL for Postgres instead of running it."""
    context.configure(dialect_name="postgresql", target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    handed_over = context.config.attributes.get("connection")
    if isinstance(handed_over, Connection):
        _run_on(handed_over)
        return
    url = _configured_url()
    if not url:
        raise RuntimeError("no database URL: set sqlalchemy.url or DATABASE_URL")
    with (
        single_use_engine(url, application_name="docfleet-migrate") as engine,
        engine.connect() as connection,
    ):
        _run_on(connection)


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
