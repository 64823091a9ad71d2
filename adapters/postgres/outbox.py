"""What the relay needs from Postgres: the unpublished outbox rows, leadership, and a wake-up call.

Several relay instances may run; the one holding ``RelayLeadership`` publishes, in ``seq`` order, which
keeps each document's events in the order their changes committed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, func, select, update

from adapters.postgres.mappers import as_utc
from adapters.postgres.relay_connections import (
    OUTBOX_CHANNEL,
    RELAY_LOCK_KEY,
    OutboxListener,
    RelayLeadership,
)
from adapters.postgres.tables import outbox

__all__ = [
    "OUTBOX_CHANNEL",
    "RELAY_LOCK_KEY",
    "OutboxListener",
    "OutboxRecord",
    "OutboxStore",
    "RelayLeadership",
]


@dataclass(frozen=True)
class OutboxRecord:
    seq: int
    event_id: str
    type: str
    routing_key: str
    document_id: str | None
    payload: dict[str, Any]
    created_at: datetime


def _record_from_row(row: Row[Any]) -> OutboxRecord:
    return OutboxRecord(
        seq=row.seq,
        event_id=str(row.event_id),
        type=row.type,
        routing_key=row.routing_key,
        document_id=row.document_id,
        payload=row.payload,
        created_at=as_utc(row.created_at),
    )


_unpublished = outbox.c.published_at.is_(None)


class OutboxStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def fetch_unpublished(self, limit: int) -> list[OutboxRecord]:
        """The oldest unpublished records, in ``seq`` order."""
        columns = [outbox.c[field.name] for field in fields(OutboxRecord)]
        query = select(*columns).where(_unpublished).order_by(outbox.c.seq).limit(limit)
        with self._engine.connect() as connection:
            return [_record_from_row(row) for row in connection.execute(query)]

    def mark_published(self, seqs: list[int]) -> None:
        if not seqs:
            return
        statement = update(outbox).where(outbox.c.seq.in_(seqs), _unpublished).values(published_at=func.now())
        with self._engine.begin() as connection:
            connection.execute(statement)

    def pending_count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(outbox).where(_unpublished)) or 0)

    def oldest_pending_age_seconds(self) -> float | None:
        age = func.extract("epoch", func.now() - func.min(outbox.c.created_at))
        with self._engine.connect() as connection:
            seconds = connection.scalar(select(age).where(_unpublished))
        return None if seconds is None else max(0.0, float(seconds))
