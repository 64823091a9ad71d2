"""Group commit: the units of work of several messages in one transaction, their reads loaded up front.

A batch opens one ``SqlUnitOfWork`` (no message of its own) and, in one round trip, reads what its
commands name: their documents (locked, in id order, so two batches never wait on each other in a cycle),
their folders, then in one statement, run once the locks are held, which of its message ids the inbox
already holds, the memberships of the users they name and the documents' policies. Each message then runs
its use case in a ``BatchedUnitOfWork`` that answers reads from that snapshot and holds its writes until
it commits; a message that is refused or fails leaves nothing behind. Committed messages' documents,
policies, inbox rows and events are written by one statement (``BatchWrites``, ``commit_statement``), sent
with the batch's COMMIT. Anything the database refuses fails the whole batch, which is then rolled back:
the caller runs each message again on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from sqlalchemy import Engine

from adapters.postgres.arrays import text_array
from adapters.postgres.batch_unit import BatchedUnitOfWork, Snapshot
from adapters.postgres.batch_writes import BatchWrites
from adapters.postgres.mappers import DOCUMENT_COLUMNS, FOLDER_COLUMNS, document_from_row, folder_from_row
from adapters.postgres.unit_of_work import OnCommitted, SqlUnitOfWork
from domain.commands import Command, RevokeAccess, ShareDocument, UploadDocument
from domain.roles import Role

BATCHED_COMMANDS = (UploadDocument, ShareDocument, RevokeAccess)
"""The commands a batch loads the reads of; others run on their own."""

_FOLDERS = f"SELECT {FOLDER_COLUMNS} FROM folders WHERE id = ANY(%s::text[])"
_DOCUMENTS_LOCKED = (
    f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = ANY(%s::text[]) ORDER BY id FOR NO KEY UPDATE"
)
# Sent after the lock, so that it sees what the transactions it waited for committed. One row of arrays:
# the message ids already applied, the (org, user) memberships, the (document, user, role) policies.
_AFTER_LOCKING = (
    "SELECT ARRAY(SELECT message_id FROM inbox WHERE message_id = ANY(%(messages)s::text[])) AS applied,"
    " ARRAY(SELECT ARRAY[org_id, user_id] FROM memberships WHERE user_id = ANY(%(users)s::text[])"
    " AND (org_id = ANY(%(orgs)s::text[])"
    " OR org_id IN (SELECT org_id FROM documents WHERE id = ANY(%(docs)s::text[])))) AS members,"
    " ARRAY(SELECT ARRAY[document_id, user_id, role] FROM access_policies"
    " WHERE document_id = ANY(%(docs)s::text[])) AS policies"
)


class BatchFailed(Exception):
    """The batch cannot commit: its messages must run again, each on its own."""


@dataclass
class BatchKeys:
    """What the commands of a batch will read."""

    message_ids: list[str] = field(default_factory=list)
    users: set[str] = field(default_factory=set)
    orgs: set[str] = field(default_factory=set)
    folder_ids: set[str] = field(default_factory=set)
    document_ids: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, messages: Iterable[tuple[str, Command]]) -> BatchKeys:
        keys = cls()
        for message_id, command in messages:
            keys.message_ids.append(message_id)
            keys.add(command)
        return keys

    def add(self, command: Command) -> None:
        if isinstance(command, UploadDocument):
            self.users.add(command.owner_id)
            self.orgs.add(command.org_id)
            self.folder_ids.add(command.folder_id)
            self.document_ids.add(command.doc_id)
        elif isinstance(command, ShareDocument):
            self.users.update((command.shared_by, command.shared_with))
            self.document_ids.add(command.doc_id)
        elif isinstance(command, RevokeAccess):
            self.users.update((command.revoked_by, command.user_id))
            self.document_ids.add(command.doc_id)


class SqlBatch:
    """One transaction for several messages; use as ``with SqlBatch(...) as batch:``, then ``commit()``."""

    def __init__(self, engine: Engine, keys: BatchKeys, on_committed: OnCommitted | None = None) -> None:
        self._keys = keys
        self._transaction = SqlUnitOfWork(engine, None, on_committed)
        self._snapshot: Snapshot | None = None
        self._claimed: list[str] = []
        self._fingerprints: list[str | None] = []
        self._writes = BatchWrites()
        self._failed = False

    def __enter__(self) -> Self:
        self._transaction.__enter__()
        try:
            self._snapshot = self._read_snapshot()
        except BaseException:
            self._transaction.rollback()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._transaction.__exit__(exc_type, exc, tb)

    def new_uow(self, message_id: str | None, fingerprint: str | None = None, /) -> BatchedUnitOfWork:
        if self._snapshot is None or message_id is None:
            raise RuntimeError("a batch's units of work are opened for its messages, inside `with`")
        return BatchedUnitOfWork(
            self._transaction, self._snapshot, message_id, self, self._writes, fingerprint
        )

    def claim(self, message_id: str, fingerprint: str | None) -> None:
        """The message committed its unit of work: its inbox row goes with the batch's commit."""
        self._claimed.append(message_id)
        self._fingerprints.append(fingerprint)

    def fail(self) -> None:
        """Called when a message's writes did not all go out: the batch must not commit."""
        self._failed = True

    def commit(self) -> None:
        if self._failed:
            self._transaction.rollback()
            raise BatchFailed("a message's writes failed part way")
        self._writes.send(self._transaction)
        if self._claimed:
            self._transaction.claim(self._claimed, self._fingerprints)
        self._transaction.commit()

    def _read_snapshot(self) -> Snapshot:
        keys, session = self._keys, self._transaction.session
        document_ids = text_array(sorted(keys.document_ids))
        documents = session.later(_DOCUMENTS_LOCKED, (document_ids,))
        folder_ids = text_array(sorted(keys.folder_ids))
        folders = session.later(_FOLDERS, (folder_ids,)) if keys.folder_ids else list
        rest = session.later(_AFTER_LOCKING, _after_locking_params(keys, document_ids))
        snapshot = Snapshot(
            applied_before=set(),
            member_users=set(keys.users),
            member_orgs=set(keys.orgs),
            folders=dict.fromkeys(keys.folder_ids),
            documents=dict.fromkeys(keys.document_ids),
            policies={document_id: {} for document_id in keys.document_ids},
        )
        for row in documents():
            document = document_from_row(row)
            snapshot.documents[document.id] = document
            snapshot.member_orgs.add(document.org_id)
        snapshot.folders.update((row.id, folder_from_row(row)) for row in folders())
        (applied, members, policies) = rest()[0]
        snapshot.applied_before.update(applied)
        snapshot.members.update((org_id, user_id) for org_id, user_id in members)
        for document_id, user_id, role in policies:
            snapshot.policies[document_id][user_id] = Role(role)
        return snapshot


def _after_locking_params(keys: BatchKeys, document_ids: str) -> dict[str, str]:
    return {
        "messages": text_array(keys.message_ids),
        "users": text_array(sorted(keys.users)),
        "orgs": text_array(sorted(keys.orgs)),
        "docs": document_ids,
    }
