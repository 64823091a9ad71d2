"""How fast the relay empties the outbox: the events it marked published recently."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from adapters.postgres.tables import outbox


def published_within(engine: Engine, window: timedelta) -> int:
    """How many outbox events were published within ``window`` before now (by the database's clock)."""
    recent = outbox.c.published_at > func.now() - window
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(outbox).where(recent)) or 0)
