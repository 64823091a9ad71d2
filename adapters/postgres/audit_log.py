"""The ``audit_log`` table: one row per event id, written by the reference audit consumer.

``record_events`` inserts a batch in one transaction with ``ON CONFLICT (event_id) DO NOTHING``: an event
delivered again (a redelivery after a crash between commit and ack, or a duplicate publish by the relay)
leaves the table as it was. The caller acks the batch's messages only after this returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert

from adapters.postgres.tables import audit_log


class UnstorableEvent(ValueError):
    """A value Postgres would refuse (a NUL character, a lone surrogate): the event can never be stored."""


@dataclass(frozen=True)
class AuditEvent:
    event_id: str
    type: str
    routing_key: str
    org_id: str | None
    document_id: str | None
    occurred_at: datetime
    payload: Mapping[str, Any]

    def __post_init__(self) -> None:
        for value in (self.type, self.routing_key, self.org_id, self.document_id, self.payload):
            _check_storable(value)


def record_events(engine: Engine, events: Sequence[AuditEvent]) -> int:
    """Inserts the events in one transaction; returns how many were new (the others were already there)."""
    if not events:
        return 0
    rows = [_row(event) for event in events]
    statement = (
        insert(audit_log)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[audit_log.c.event_id])
        .returning(audit_log.c.event_id)
    )
    with engine.begin() as connection:
        return len(connection.execute(statement).all())


def _row(event: AuditEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "routing_key": event.routing_key,
        "org_id": event.org_id,
        "document_id": event.document_id,
        "occurred_at": event.occurred_at,
        "payload": dict(event.payload),
    }


def _check_storable(value: object) -> None:
    """Text and JSONB refuse NUL characters, and UTF-8 cannot carry a lone surrogate."""
    if isinstance(value, str):
        if "\x00" in value:
            raise UnstorableEvent("a text value holds a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UnstorableEvent("a text value holds a lone surrogate") from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_storable(key)
            _check_storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_storable(item)
