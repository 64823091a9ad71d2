"""How fast the relay empties the outbox: the events it marked published recently."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

# The relay publishes in seq order, so the events published within the window are the newest published
# ones: the count walks back by the key from the newest row to the first published before the window,
# rather than reading a week of rows (published_at has no index, which every mark would have to update).
# An event published late, out of order (RabbitMQ refused it at first), may be left out.
_PUBLISHED_WITHIN = text(
    "SELECT count(*) FROM outbox"
    " WHERE seq > coalesce((SELECT seq FROM outbox WHERE published_at <= now() - make_interval(secs => :s)"
    " ORDER BY seq DESC LIMIT 1), 0)"
    " AND published_at > now() - make_interval(secs => :s)"
)


def published_within(engine: Engine, window: timedelta) -> int:
    """How many outbox events were published within ``window`` before now (by the database's clock)."""
    with engine.connect() as connection:
        return int(connection.scalar(_PUBLISHED_WITHIN, {"s": window.total_seconds()}) or 0)
