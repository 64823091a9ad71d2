"""The psycopg connection of one unit of work, in pipeline mode.

Statements are sent as they come and a round trip is paid only when a result is read: the inbox claim
travels with the first read, and every write, the outbox rows, the NOTIFY and the COMMIT travel together.
Hot statements are plain SQL strings, prepared by psycopg on the server after a few uses, so no statement
is built or compiled per message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg.rows import namedtuple_row

from adapters.postgres.errors import FolderCreatedConcurrently, MemberAddedConcurrently, StaleDocumentVersion
from domain.errors import AlreadyApplied, EventAlreadyRecorded

Params = Sequence[Any] | dict[str, Any]
INBOX_KEY = "inbox_pkey"
DOCUMENTS_KEY = "documents_pkey"
MEMBERSHIPS_KEY = "pk_memberships"
OUTBOX_EVENT_ID_KEY = "uq_outbox_event_id"
FOLDERS_KEYS = frozenset({"folders_pkey", "uq_folders_id_org", "uq_folders_sibling_name"})


class PgSession:
    """Runs statements on one psycopg connection inside one transaction (pipeline mode)."""

    def __init__(self, connection: psycopg.Connection[Any], message_id: str | None) -> None:
        self.connection = connection
        self._message_id = message_id

    def send(self, sql: str, params: Params = ()) -> None:
        """Queues a statement whose result is not needed; a failure surfaces at the next read or commit."""
        with self._translated():
            self.connection.execute(sql, params, prepare=True)

    def one(self, sql: str, params: Params = ()) -> Any | None:
        """The first row of the result (attributes named as the columns), or None."""
        with self._translated():
            cursor = self.connection.cursor(row_factory=namedtuple_row)
            return cursor.execute(sql, params, prepare=True).fetchone()

    def all(self, sql: str, params: Params = ()) -> list[Any]:
        with self._translated():
            cursor = self.connection.cursor(row_factory=namedtuple_row)
            return cursor.execute(sql, params, prepare=True).fetchall()

    def later(self, sql: str, params: Params = ()) -> Callable[[], list[Any]]:
        """Sends a query now and reads its rows when called: queries sent together share a round trip."""
        with self._translated():
            cursor = self.connection.cursor(row_factory=namedtuple_row)
            cursor.execute(sql, params, prepare=True)

        def rows() -> list[Any]:
            with self._translated():
                return cursor.fetchall()

        return rows

    def scalar(self, sql: str, params: Params = ()) -> Any | None:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def commit(self) -> None:
        with self._translated():
            self.connection.commit()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Turns the unique violations that mean something to the domain into its errors."""
        try:
            yield
        except errors.UniqueViolation as error:
            constraint = error.diag.constraint_name
            if constraint == INBOX_KEY:  # a batch's claims (no id of its own): the id Postgres names
                message_id = self._message_id or _key_of(error.diag.message_detail or "")
                raise AlreadyApplied(message_id) from error
            if constraint == DOCUMENTS_KEY:
                raise StaleDocumentVersion(_key_of(error.diag.message_detail or ""), version=1) from error
            if constraint == MEMBERSHIPS_KEY:
                raise MemberAddedConcurrently(error.diag.message_detail or "a membership") from error
            if constraint in FOLDERS_KEYS:
                raise FolderCreatedConcurrently(error.diag.message_detail or "a folder") from error
            if constraint == OUTBOX_EVENT_ID_KEY:  # an event whose id is derived, recorded before
                raise EventAlreadyRecorded(_key_of(error.diag.message_detail or "")) from error
            raise


def _key_of(detail: str) -> str:
    """``doc-1`` out of Postgres's ``Key (id)=(doc-1) already exists.``"""
    _, _, rest = detail.partition(")=(")
    return rest.rpartition(") already exists")[0] or detail
