"""What Postgres knows of a message id: whether it was used up, and the CommandRejected recorded for it.

For operators looking at dead letters: the inbox holds every message id that had its outcome (applied,
refused, rejected), so sending that id again is a duplicate; the outbox keeps the CommandRejected event,
with its reason and detail, of each rejected one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, text

from adapters.postgres.mappers import as_utc
from adapters.postgres.tables import inbox
from domain.commands import NO_COMMAND

LOOKUP_CHUNK = 1000
# Written as the index ix_outbox_rejected_message_id is (migration 0006): its expression, with the key as a
# literal, and its condition on the type, so that even a generic plan reads it rather than every event.
REJECTIONS_OF_MESSAGES = text(
    "SELECT payload, created_at FROM outbox"
    " WHERE type = 'CommandRejected' AND (payload ->> 'message_id') = ANY(CAST(:ids AS text[]))"
    " ORDER BY seq"  # an id with several (another command sent under it): see ``rejections``
)
REUSED = "message_id_reused"


# The id's inbox row, if any: the fingerprint it keeps, and whether the rejection that spent it dead-lettered
# its message (not found; or invalid, which no command can be read from). Only the outcome that spent an id
# records a rejection under it (``record_outcome`` claims the id), a reused id's own aside, which has a
# reason of its own; that rejection was recorded in the row's transaction (the same ``now()``), so one
# left from before the row (the id forgotten by ``inbox prune``, then used again) is not taken for it.
# An id an invalid message spent keeps ``NO_COMMAND``, which says so after the outbox forgot the rejection.
SPENDING = text(
    "SELECT i.fingerprint, i.fingerprint = :no_command OR EXISTS (SELECT 1 FROM outbox o"
    " WHERE o.type = 'CommandRejected'"
    " AND (o.payload ->> 'message_id') = i.message_id AND o.created_at >= i.processed_at"
    " AND ((o.payload ->> 'reason') = 'not_found'"
    " OR ((o.payload ->> 'reason') = 'invalid' AND i.fingerprint IS NULL)))"
    " AS dead_lettered FROM inbox i WHERE i.message_id = :id"
)
SPENT_BY = text("SELECT fingerprint FROM inbox WHERE message_id = :id")


@dataclass(frozen=True)
class Spending:
    """How a message id was spent: by which command (its fingerprint, where the inbox keeps one), and
    whether by a rejection that dead-lettered its message (invalid, not found after its retries)."""

    fingerprint: str | None
    dead_lettered: bool


@dataclass(frozen=True)
class RecordedRejection:
    message_id: str
    actor: str
    reason: str
    detail: str
    recorded_at: datetime


class MessageHistory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def rejections(self, message_ids: Collection[str]) -> dict[str, RecordedRejection]:
        """The CommandRejected recorded for each of the ids that has one, by message id: the latest of
        the outcome that spent the id, else the latest refusing a command sent under it again, which
        must not hide why the command that spent it was dead-lettered."""
        found: dict[str, RecordedRejection] = {}
        for chunk in _chunks(message_ids):
            with self._engine.connect() as connection:
                for row in connection.execute(REJECTIONS_OF_MESSAGES, {"ids": chunk}):
                    rejection = _rejection(row.payload, row.created_at)
                    kept = found.get(rejection.message_id)
                    if kept is None or rejection.reason != REUSED or kept.reason == REUSED:
                        found[rejection.message_id] = rejection
        return found

    def acked_outcome(self, message_id: str, fingerprint: str | None) -> bool:
        """Whether the command of this ``fingerprint`` (None: no valid command) had, under this id, an
        outcome that acks its message (applied, refused by the rules), rather than one that dead-letters
        it (a rejection as invalid or as not found, which spends the id too). Where the inbox keeps the
        fingerprint of the command that spent the id, only that command had its outcome: another one
        sent under the id never ran."""
        spending = self.spending(message_id)
        if spending is None or spending.dead_lettered or fingerprint is None:  # none: every invalid copy
            return False  # is dead-lettered (contract §4)
        return spending.fingerprint is None or spending.fingerprint == fingerprint

    def spending(self, message_id: str) -> Spending | None:
        """How the id was spent; None if it was not."""
        with self._engine.connect() as connection:
            row = connection.execute(SPENDING, {"id": message_id, "no_command": NO_COMMAND}).first()
        return None if row is None else Spending(row.fingerprint, bool(row.dead_lettered))

    def spent_by(self, message_id: str) -> str | None:
        """The fingerprint of the command whose outcome spent this id, where the inbox keeps one."""
        with self._engine.connect() as connection:
            spent: str | None = connection.scalar(SPENT_BY, {"id": message_id})
            return spent

    def used_ids(self, message_ids: Collection[str]) -> set[str]:
        """The ids that already had their outcome: a message sent again with one is a duplicate."""
        used: set[str] = set()
        for chunk in _chunks(message_ids):
            query = select(inbox.c.message_id).where(inbox.c.message_id.in_(chunk))
            with self._engine.connect() as connection:
                used.update(connection.scalars(query))
        return used


def _rejection(payload: dict[str, str], created_at: datetime) -> RecordedRejection:
    return RecordedRejection(
        message_id=str(payload.get("message_id")),
        actor=str(payload.get("actor", "")),
        reason=str(payload.get("reason", "")),
        detail=str(payload.get("detail", "")),
        recorded_at=as_utc(created_at),
    )


def _chunks(message_ids: Collection[str]) -> Iterator[list[str]]:
    ids = sorted(set(message_ids))
    for start in range(0, len(ids), LOOKUP_CHUNK):
        yield ids[start : start + LOOKUP_CHUNK]
