"""One unit of work, one connection, one transaction: state, outbox rows and inbox row commit together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Self

import psycopg
from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from adapters.postgres.arrays import text_array
from adapters.postgres.changes import Changes
from adapters.postgres.commit_statement import Part, send_last_writes
from adapters.postgres.documents import SqlDocumentRepository
from adapters.postgres.engine import psycopg_connection, return_to_pool
from adapters.postgres.folders import SqlFolderRepository
from adapters.postgres.members import SqlMemberRepository
from adapters.postgres.policies import SqlPolicyRepository
from adapters.postgres.session import PgSession
from domain.events import Event, stamped
from domain.ports import (
    DocumentRepository,
    FolderRepository,
    MemberRepository,
    PolicyRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)

_CLAIM = "INSERT INTO inbox (message_id, fingerprint) VALUES (%s, %s)"
_CLAIM_MANY = "INSERT INTO inbox (message_id, fingerprint) SELECT * FROM unnest(%s::text[], %s::text[])"

OnCommitted = Callable[[set[str], set[str]], None]
"""Called after a commit with the ids of the folders and of the documents it changed."""


class SqlUnitOfWork:
    """``domain.ports.UnitOfWork`` on a pooled psycopg connection of its own, checked out on entry.

    The message's inbox row is claimed on entry and travels with the first read, so a duplicate fails
    there (or at commit, if the body reads nothing) with ``AlreadyApplied`` before it decides anything.
    ``commit`` and ``rollback`` both end it and return the connection; ``on_committed`` is called after a
    commit that changed documents or policies (documents whose policies changed count as changed), never
    after a rollback or a failed commit. Not shared between threads: each runs units of work of its own.
    """

    members: MemberRepository
    folders: FolderRepository
    documents: DocumentRepository
    policies: PolicyRepository

    def __init__(
        self,
        engine: Engine,
        message_id: str | None,
        on_committed: OnCommitted | None = None,
        *,
        fingerprint: str | None = None,
        read_only: bool = False,
    ) -> None:
        """``fingerprint``: of the message's command, kept in its inbox row. ``read_only``: for queries,
        each statement on its own (no transaction to begin and roll back, a round trip saved); ``commit``
        is refused."""
        if read_only and message_id is not None:
            raise ValueError("a read-only unit of work claims no message")
        self._engine = engine
        self._message_id = message_id
        self._fingerprint = fingerprint
        self._read_only = read_only
        self._on_committed = on_committed
        self._pooled: PoolProxiedConnection | None = None
        self._pipeline: AbstractContextManager[psycopg.Pipeline] | None = None
        self._session: PgSession | None = None
        self._events: list[Event] = []
        self._last_writes: list[Part] = []
        self._changes = Changes()

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("the unit of work is already open")
        pooled = self._engine.raw_connection()
        try:
            connection = psycopg_connection(pooled)
            connection.autocommit = self._read_only
            self._pipeline = connection.pipeline()
            self._pipeline.__enter__()
            session = PgSession(connection, self._message_id)
            if self._message_id is not None:
                session.send(_CLAIM, (self._message_id, self._fingerprint))
        except BaseException:
            self._pooled = pooled
            self._finish()
            raise
        self._start(pooled, session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish()

    @property
    def session(self) -> PgSession:
        """The open transaction, for adapters that extend the unit of work (``SqlBatch``)."""
        return self._require_session()

    @property
    def changes(self) -> Changes:
        """What the transaction changed so far, for writes an extension sends itself (``BatchWrites``)."""
        self._require_session()
        return self._changes

    def claim(self, message_ids: list[str], fingerprints: list[str | None]) -> None:
        """Records more message ids in the inbox with this transaction (a batch's messages), each with
        its command's fingerprint. Sorted by id, as ``BatchWrites`` sorts its rows, for the same reason:
        two batches holding redeliveries of the same messages claim them in one order."""
        order = sorted(range(len(message_ids)), key=message_ids.__getitem__)
        ids, prints = (text_array(column[i] for i in order) for column in (message_ids, fingerprints))
        self.write_at_commit("claimed", _CLAIM_MANY, (ids, prints))

    def write_at_commit(self, name: str, statement: str, params: Sequence[Any]) -> None:
        """A data-modifying statement sent as a part named ``name`` of the commit's statement."""
        self._require_session()
        self._last_writes.append((name, statement, params))

    def record(self, event: Event) -> None:
        self._require_session()
        self._events.append(stamped(event, self._message_id))

    def commit(self) -> None:
        session = self._require_session()
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        changes, events = self._changes, self._events
        try:
            send_last_writes(session, self._last_writes, sorted(changes.folder_ids), events)
            session.commit()
        finally:
            self._finish()
        if self._on_committed is not None and changes:
            self._on_committed(set(changes.folder_ids), set(changes.document_ids))

    def rollback(self) -> None:
        self._require_session()
        self._finish()

    def _start(self, pooled: PoolProxiedConnection, session: PgSession) -> None:
        """Events and changes start empty: ``__init__`` and every ``_finish`` leave them so."""
        self._pooled, self._session = pooled, session
        self.members = SqlMemberRepository(session)
        self.folders = SqlFolderRepository(session)
        self.documents = SqlDocumentRepository(session, self._changes)
        self.policies = SqlPolicyRepository(session, self._changes)

    def _finish(self) -> None:
        """Leaves pipeline mode, rolls back what is still open and returns the connection to the pool;
        a connection that broke is discarded rather than returned."""
        pooled, self._pooled, self._session = self._pooled, None, None
        pipeline, self._pipeline = self._pipeline, None
        self._events = []
        self._last_writes = []
        self._changes = Changes()
        if pooled is None:
            return
        try:
            if pipeline is not None:
                pipeline.__exit__(None, None, None)
        except Exception:  # a failed sync leaves the connection in no known state
            psycopg_connection(pooled).close()
        return_to_pool(pooled)

    def _require_session(self) -> PgSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block, before commit")
        return self._session


def read_only_unit_of_work_factory(engine: Engine) -> Callable[[], UnitOfWork]:
    """Units of work for queries: see ``SqlUnitOfWork``'s ``read_only``."""
    return lambda: SqlUnitOfWork(engine, None, read_only=True)


def unit_of_work_factory(engine: Engine, on_committed: OnCommitted | None = None) -> UnitOfWorkFactory:
    def new_unit_of_work(message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        return SqlUnitOfWork(engine, message_id, on_committed, fingerprint=fingerprint)

    return new_unit_of_work
