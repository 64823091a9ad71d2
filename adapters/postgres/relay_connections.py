"""The relay's own connections, outside the pool: the leadership lock and the LISTEN for commits."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any, Self

import msgspec
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import set_json_loads
from sqlalchemy import Engine, text

from adapters.postgres.engine import (
    SESSION_OPTIONS,
    connect_timeout_default,
    libpq_conninfo,
    liveness_defaults,
    session_options,
    with_statement_timeout,
)

OUTBOX_CHANNEL = "docfleet_outbox"
"""Units of work that wrote outbox rows notify this channel when they commit."""

RELAY_LOCK_KEY = 0x646F_6366_7265_6C79  # "docfrely": the advisory lock the publishing relay holds
# A session's bigint advisory lock shows in pg_locks as its high and low halves, objsubid 1.
_LEADER_SEEN = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND classid::bigint = :high AND objid::bigint = :low)"
)
_json_decoder = msgspec.json.Decoder()


# The leader's marks do not wait for their WAL to reach the disk. A mark lost with a crash of Postgres
# (the last fraction of a second of them) only makes the next leader publish those events again, which
# the relay already does after its own crash between confirm and mark: consumers deduplicate on the
# event id. Every other write, the units of work's above all, still waits for the disk.
# Like the pooled connections (``SESSION_OPTIONS``), the leader's plans its prepared fetch and mark at
# every execution: a generic plan made while the outbox was nearly empty scans the whole table for every
# mark once it has grown, until the next ANALYZE. And it never plans a bitmap scan: until a vacuum, the
# unpublished-rows index keeps an entry for every row published since, which a bitmap scan reads on
# every fetch, where an index scan in ``seq`` order marks them dead once and stops at its limit.
_LEADER_OPTIONS = f"{SESSION_OPTIONS} -c synchronous_commit=off -c enable_bitmapscan=off"


def _leader_connection(engine: Engine, statement_timeout_ms: int | None) -> psycopg.Connection[Any]:
    """The leader's connection, whose fetches decode the events' JSONB bodies with msgspec: about a
    quarter of json.loads's time, into the same dicts. A statement past ``statement_timeout_ms`` (a
    fetch or a mark waiting on a lock of the outbox) is cancelled, so that the leader says so and starts
    over rather than waiting in silence, deaf to a stop."""
    connection = _dedicated_connection(engine, with_statement_timeout(_LEADER_OPTIONS, statement_timeout_ms))
    set_json_loads(_json_decoder.decode, connection)
    return connection


# The server's side of the keepalives. The leadership lock lives as long as the leader's session, and
# Postgres ends a session whose client vanished (a crashed host, a partition) only once it notices: with
# the server's default of two hours idle before the first probe, no relay could lead for that long.
_SERVER_KEEPALIVES = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
    " -c tcp_user_timeout=25000"
)


def _dedicated_connection(engine: Engine, options: str = "") -> psycopg.Connection[Any]:
    """A connection of its own, outside the pool: its session ends, and its locks go, when it closes.

    ``options`` come before the URL's own, as for the pool. TCP keepalives on both ends make a dead
    network show up within about half a minute: as an error here, and as the session's end (its lock
    released) on the server.
    """
    conninfo = make_conninfo(
        libpq_conninfo(engine.url),
        options=session_options(engine.url, f"{_SERVER_KEEPALIVES} {options}".strip()),
        **connect_timeout_default(engine.url),
        **liveness_defaults(engine.url),
    )
    return psycopg.connect(conninfo, autocommit=True)


class NotLeading(psycopg.OperationalError):
    """The relay was asked for the leader's connection without holding the lock."""


class RelayLeadership:
    """A session-level advisory lock on a dedicated connection: its holder is the one publishing relay.

    Losing the connection loses the lock. The holder reads and marks the outbox on ``connection()``, so a
    lost lock fails the next statement: no batch is fetched, so none is published, without it.
    """

    def __init__(
        self, engine: Engine, *, lock_key: int = RELAY_LOCK_KEY, statement_timeout_ms: int | None = None
    ) -> None:
        self._engine = engine
        self._lock_key = lock_key
        self._statement_timeout_ms = statement_timeout_ms
        self._connection: psycopg.Connection[Any] | None = None
        self._held = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def acquire(self) -> bool:
        """Takes the lock if it is free; never waits."""
        if self._held:
            return self.still_leader()
        if self._connection is None or self._connection.closed:
            self._connection = _leader_connection(self._engine, self._statement_timeout_ms)
        row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key,)).fetchone()
        self._held = bool(row and row[0])
        return self._held

    def connection(self) -> psycopg.Connection[Any]:
        """The connection holding the lock (autocommit); raises ``NotLeading`` unless this relay leads."""
        if not self._held or self._connection is None:
            raise NotLeading("this relay does not hold the leadership")
        return self._connection

    def still_leader(self) -> bool:
        """One round trip: is the lock still held by this connection's session?"""
        if not self._held or self._connection is None:
            return False
        try:
            row = self._connection.execute(_HOLDS_LOCK, (self._lock_key,)).fetchone()
        except psycopg.Error:
            self.release()
            return False
        return bool(row and row[0])

    def release(self) -> None:
        """Frees the lock and closes the connection; a broken connection has freed it already.

        The unlock is explicit because a closing session frees its locks only once the server has
        noticed, a moment later.
        """
        connection, held = self._connection, self._held
        self._connection, self._held = None, False
        if connection is None:
            return
        with contextlib.suppress(psycopg.Error):
            if held and not connection.closed:
                connection.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key,))
        connection.close()


_HOLDS_LOCK = """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
          AND ((classid::bigint << 32) | objid::bigint) = %s
    )
"""


_MAX_DRAIN_READS = 100


class OutboxListener:
    """LISTENs on the outbox channel on a dedicated connection, so the relay sleeps until a commit.

    A lost connection raises from ``wait``; the relay then opens a new listener.
    """

    def __init__(self, engine: Engine) -> None:
        self._connection = _dedicated_connection(engine)
        self._connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(OUTBOX_CHANNEL)))

    def wait(self, timeout: float) -> bool:
        """True as soon as a notification arrives, False after ``timeout`` seconds without one.

        Notifications already queued are consumed with the first, since one fetch covers them all.
        """
        # Each generator runs to its end: it holds the connection's lock while suspended.
        if not list(self._connection.notifies(timeout=timeout, stop_after=1)):
            return False
        for _ in range(_MAX_DRAIN_READS):
            if not list(self._connection.notifies(timeout=0)):
                break
        return True

    def close(self) -> None:
        self._connection.close()


def relay_is_leading(engine: Engine, lock_key: int = RELAY_LOCK_KEY) -> bool:
    """Whether some session of this database holds the publishing relay's lock: a relay is running."""
    with engine.connect() as connection:
        unsigned = lock_key & 0xFFFF_FFFF_FFFF_FFFF  # the key's bits, as pg_locks shows a negative one's
        return bool(connection.scalar(_LEADER_SEEN, {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF}))
