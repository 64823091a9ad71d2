"""What the relay needs from Postgres: the unpublished outbox rows, leadership, and a wake-up call.

Several relay instances may run; the one holding ``RelayLeadership`` publishes, in ``seq`` order, which
keeps each document's events in the order their changes committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, func, select

from adapters.postgres.arrays import bigint_array
from adapters.postgres.engine import psycopg_connection, return_to_pool
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


def _record_from_row(row: Any) -> OutboxRecord:
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
# Fixed strings, prepared on the server: the relay runs them for every batch, often of one event.
# The fetch is public for the test of its plan on the leader's connection.
FETCH_UNPUBLISHED = (
    f"SELECT {', '.join(field.name for field in fields(OutboxRecord))} FROM outbox"
    " WHERE published_at IS NULL ORDER BY seq LIMIT %s"
)
_MARK = "UPDATE outbox SET published_at = now() WHERE seq = ANY(%s::bigint[]) AND published_at IS NULL"


class OutboxStore:
    """The outbox rows. Given the relay's ``leadership``, it reads and marks them on the connection that
    holds the lock: each batch is then fetched only while this relay leads, with no round trip to check."""

    def __init__(self, engine: Engine, leadership: RelayLeadership | None = None) -> None:
        self._engine = engine
        self._leadership = leadership

    def fetch_unpublished(self, limit: int) -> list[OutboxRecord]:
        """The oldest unpublished records, in ``seq`` order."""
        with self._autocommit() as connection:
            cursor = connection.cursor(row_factory=namedtuple_row)
            rows = cursor.execute(FETCH_UNPUBLISHED, (limit,), prepare=True)
            return [_record_from_row(row) for row in rows]

    def mark_published(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with self._autocommit() as connection:
            connection.execute(_MARK, (bigint_array(seqs),), prepare=True)

    @contextmanager
    def _autocommit(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection running each statement as a transaction of its own: one round trip. The leader's
        own when there is a leadership (it raises once that connection is lost), else a pooled one."""
        if self._leadership is not None:
            yield self._leadership.connection()
            return
        pooled = self._engine.raw_connection()
        try:
            connection = psycopg_connection(pooled)
            connection.autocommit = True
            yield connection
        finally:
            return_to_pool(pooled)

    def pending_count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(outbox).where(_unpublished)) or 0)

    def oldest_pending_age_seconds(self) -> float | None:
        age = func.extract("epoch", func.now() - func.min(outbox.c.created_at))
        with self._engine.connect() as connection:
            seconds = connection.scalar(select(age).where(_unpublished))
        return None if seconds is None else max(0.0, float(seconds))
