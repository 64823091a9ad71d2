"""Which database this is, as a text no other database shares, read again on each new connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event, text

# The cluster's system identifier, drawn at random by initdb, the database's OID, new at each CREATE
# DATABASE, and the OID of the folders table the connection's search_path finds (none before the first
# migration), new at each CREATE TABLE: two databases on one server, two deployments in two schemas of
# one database, one database dropped and made again, or restored from a dump into a new one or into
# the same one (``pg_restore --clean`` makes its tables again), each read differently. A physical copy
# (a base backup, a streaming replica) reads the same.
IDENTITY_SQL = (
    "SELECT (SELECT system_identifier FROM pg_control_system())::text || '-' || oid::text"
    " || '-' || coalesce(to_regclass('folders')::oid::text, 'none')"
    " FROM pg_database WHERE datname = current_database()"
)


def database_identity(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text(IDENTITY_SQL)).scalar_one())


class WatchedIdentity:
    """The identity of the database an engine's connections reach, read on each connection the engine
    opens: a database swapped under a running process (dropped and migrated again, say) is seen on the
    first connection to it, and each ``on_change`` callback is told. Thread-safe.

    Attach it before the engine opens its first connection, as a connection opened before is not read."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._current: str | None = None
        self._on_change: list[Callable[[], None]] = []
        event.listen(engine, "connect", self._read_on_connect)

    def on_change(self, callback: Callable[[], None]) -> None:
        self._on_change.append(callback)

    def __call__(self) -> str:
        with self._lock:
            current = self._current
        if current is None:  # no connection opened yet
            current = database_identity(self._engine)
            self._note(current)
        return current

    def _read_on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(IDENTITY_SQL)
            (identity,) = cursor.fetchone()
        finally:
            cursor.close()
            dbapi_connection.rollback()  # the pool hands out connections outside any transaction
        self._note(str(identity))

    def _note(self, identity: str) -> None:
        with self._lock:
            changed = self._current is not None and self._current != identity
            self._current = identity
        if changed:
            for callback in self._on_change:
                callback()
