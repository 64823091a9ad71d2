"""Deleting published outbox rows past their retention: the relay never reads a published row again.

Rows go oldest first, in batches of one short transaction each, so a large backlog never holds long
locks; unpublished rows are never touched, however old. A CommandRejected row is kept at least
``REJECTIONS_KEPT`` whatever the retention asked: ``dlq ls`` and ``dlq show`` read there why a dead
letter was rejected, and dead letters stay 7 days. They are few, one per rejected message.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

REJECTIONS_KEPT = timedelta(days=8)  # the 7 days a dead letter is kept, and a day

_PRUNE = text(
    "WITH doomed AS ("
    " SELECT seq FROM outbox"
    " WHERE seq > :after AND published_at IS NOT NULL"
    " AND published_at < now() - make_interval(secs => :seconds)"
    " AND (type <> 'CommandRejected' OR published_at < now() - make_interval(secs => :rejections_seconds))"
    " ORDER BY seq LIMIT :batch FOR UPDATE SKIP LOCKED)"
    " DELETE FROM outbox USING doomed WHERE outbox.seq = doomed.seq RETURNING outbox.seq"
)


def prune_published(engine: Engine, older_than: timedelta, *, batch_size: int = 10_000) -> int:
    """Deletes the rows published more than ``older_than`` ago (rejections: at least
    ``REJECTIONS_KEPT``); how many were deleted.

    Each batch starts after the last row the one before deleted: from the lowest ``seq`` again, it would
    walk past the index entries of every row deleted so far, which Postgres cannot drop while any other
    snapshot (a backup, a long report) is open, and the prune would slow down as the square of its rows."""
    deleted, after = 0, 0
    while True:
        with engine.begin() as connection:
            parameters = {
                "seconds": older_than.total_seconds(),
                "rejections_seconds": max(older_than, REJECTIONS_KEPT).total_seconds(),
                "batch": batch_size,
                "after": after,
            }
            seqs = connection.scalars(_PRUNE, parameters).all()
        deleted += len(seqs)
        if len(seqs) < batch_size:
            return deleted
        after = max(seqs)
