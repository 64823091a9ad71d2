"""One unit of work, one connection, one transaction: state, outbox rows and inbox row commit together."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert

from adapters.postgres.changes import Changes
from adapters.postgres.documents import SqlDocumentRepository
from adapters.postgres.folders import SqlFolderRepository
from adapters.postgres.mappers import outbox_values
from adapters.postgres.members import SqlMemberRepository
from adapters.postgres.outbox import OUTBOX_CHANNEL
from adapters.postgres.policies import SqlPolicyRepository
from adapters.postgres.tables import folders, inbox, outbox
from domain.errors import AlreadyApplied
from domain.events import Event
from domain.ports import (
    DocumentRepository,
    FolderRepository,
    MemberRepository,
    PolicyRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)

OnCommitted = Callable[[set[str], set[str]], None]
"""Called after a commit with the ids of the folders and of the documents it changed."""


class SqlUnitOfWork:
    """``domain.ports.UnitOfWork`` on a connection of its own, checked out on entry.

    ``commit`` and ``rollback`` both end it and return the connection; ``on_committed`` is called after a
    commit that changed documents or policies (documents whose policies changed count as changed), never
    after a rollback or a failed commit. Not shared between threads: each runs units of work of its own.
    """

    members: MemberRepository
    folders: FolderRepository
    documents: DocumentRepository
    policies: PolicyRepository

    def __init__(
        self, engine: Engine, message_id: str | None, on_committed: OnCommitted | None = None
    ) -> None:
        self._engine = engine
        self._message_id = message_id
        self._on_committed = on_committed
        self._connection: Connection | None = None
        self._events: list[Event] = []
        self._changes = Changes()

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("the unit of work is already open")
        connection = self._engine.connect()
        try:
            connection.begin()
            if self._message_id is not None:
                _claim(connection, self._message_id)
        except BaseException:
            connection.close()
            raise
        self._start(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish()

    def record(self, event: Event) -> None:
        self._require_connection()
        self._events.append(event)

    def commit(self) -> None:
        connection = self._require_connection()
        changes, events = self._changes, self._events
        _raise_listing_versions(connection, changes.folder_ids)
        _write_outbox(connection, events)
        connection.commit()
        self._finish()
        if self._on_committed is not None and changes:
            self._on_committed(set(changes.folder_ids), set(changes.document_ids))

    def rollback(self) -> None:
        self._require_connection().rollback()
        self._finish()

    def _start(self, connection: Connection) -> None:
        self._connection = connection
        self._events = []
        self._changes = Changes()
        self.members = SqlMemberRepository(connection)
        self.folders = SqlFolderRepository(connection)
        self.documents = SqlDocumentRepository(connection, self._changes)
        self.policies = SqlPolicyRepository(connection, self._changes)

    def _finish(self) -> None:
        """Returns the connection to the pool; a transaction still open there is rolled back."""
        connection, self._connection = self._connection, None
        self._events = []
        self._changes = Changes()
        if connection is not None:
            connection.close()

    def _require_connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block, before commit")
        return self._connection


def _claim(connection: Connection, message_id: str) -> None:
    """Records the message in the inbox, or raises ``AlreadyApplied`` if it is there.

    A concurrent unit of work for the same message waits here until the first one ends, then sees its
    row (it committed) or claims the message itself (it rolled back).
    """
    statement = (
        insert(inbox).values(message_id=message_id).on_conflict_do_nothing().returning(inbox.c.message_id)
    )
    if connection.scalar(statement) is None:
        connection.rollback()
        raise AlreadyApplied(message_id)


def _raise_listing_versions(connection: Connection, folder_ids: set[str]) -> None:
    if folder_ids:
        connection.execute(
            update(folders)
            .where(folders.c.id.in_(sorted(folder_ids)))
            .values(listing_version=folders.c.listing_version + 1)
        )


def _write_outbox(connection: Connection, events: list[Event]) -> None:
    """One multi-row INSERT for all the events, then one NOTIFY, delivered to listeners at commit."""
    if not events:
        return
    connection.execute(outbox.insert().values([outbox_values(event) for event in events]))
    connection.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))


def unit_of_work_factory(engine: Engine, on_committed: OnCommitted | None = None) -> UnitOfWorkFactory:
    def new_unit_of_work(message_id: str | None) -> UnitOfWork:
        return SqlUnitOfWork(engine, message_id, on_committed)

    return new_unit_of_work
