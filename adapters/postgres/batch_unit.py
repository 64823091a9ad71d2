"""One message's unit of work inside a batch: reads from the batch's snapshot, writes held until commit.

What the snapshot does not hold is read from the batch's transaction, so every read is answered; a
message's own writes are visible to its own reads at once, and to the messages after it once it commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

from adapters.postgres.batch_repositories import (
    BatchDocuments,
    BatchFolders,
    BatchMembers,
    BatchPolicies,
    MessageChanges,
)
from adapters.postgres.batch_writes import BatchWrites
from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.errors import AlreadyApplied
from domain.events import Event, stamped
from domain.model import Document, Folder
from domain.ports import DocumentRepository, FolderRepository, MemberRepository, PolicyRepository
from domain.roles import Role


class _Batch(Protocol):
    def claim(self, message_id: str, fingerprint: str | None) -> None: ...

    def fail(self) -> None: ...


@dataclass
class Snapshot:
    """What a batch read up front, brought up to date as each of its messages commits.

    Membership is known for every user of ``member_users`` in every organization of ``member_orgs``;
    folders, documents and policies for the ids that are keys (``None``: read, and not there).
    """

    applied_before: set[str]
    applied_here: set[str] = field(default_factory=set)
    member_users: set[str] = field(default_factory=set)
    member_orgs: set[str] = field(default_factory=set)
    members: set[tuple[str, str]] = field(default_factory=set)
    folders: dict[str, Folder | None] = field(default_factory=dict)
    documents: dict[str, Document | None] = field(default_factory=dict)
    policies: dict[str, dict[str, Role]] = field(default_factory=dict)


class BatchedUnitOfWork:
    """``domain.ports.UnitOfWork`` for one message of a ``SqlBatch``."""

    members: MemberRepository
    folders: FolderRepository
    documents: DocumentRepository
    policies: PolicyRepository

    def __init__(
        self,
        transaction: SqlUnitOfWork,
        snapshot: Snapshot,
        message_id: str,
        batch: _Batch,
        writes: BatchWrites,
        fingerprint: str | None = None,
    ) -> None:
        """The message's documents and policies go to the batch's ``writes`` as it commits; its inbox row
        keeps its command's ``fingerprint``."""
        self._transaction = transaction
        self._snapshot = snapshot
        self._message_id = message_id
        self._fingerprint = fingerprint
        self._batch = batch
        self._changes = MessageChanges(writes, batch.fail)
        self._events: list[Event] = []
        self.members = BatchMembers(self._changes, transaction, snapshot)
        self.folders = BatchFolders(self._changes, transaction, snapshot)
        self.documents = BatchDocuments(self._changes, transaction, snapshot)
        self.policies = BatchPolicies(self._changes, transaction, snapshot)

    def __enter__(self) -> Self:
        if (
            self._message_id in self._snapshot.applied_before
            or self._message_id in self._snapshot.applied_here
        ):
            raise AlreadyApplied(self._message_id)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._drop_pending()

    def record(self, event: Event) -> None:
        self._events.append(stamped(event, self._message_id))

    def commit(self) -> None:
        """Sends the message's writes into the batch's transaction (not waiting); its inbox row goes
        with the batch's commit."""
        try:
            for write in self._changes.held:
                write()
            for event in self._events:
                self._transaction.record(event)
        except BaseException:
            self._batch.fail()
            raise
        self._batch.claim(self._message_id, self._fingerprint)
        self._merge_into_snapshot()
        self._drop_pending()

    def rollback(self) -> None:
        self._drop_pending()

    def _drop_pending(self) -> None:
        self._changes.held, self._events = [], []

    def _merge_into_snapshot(self) -> None:
        snapshot, changes = self._snapshot, self._changes
        snapshot.applied_here.add(self._message_id)
        snapshot.members |= changes.members
        snapshot.folders.update(changes.folders)
        snapshot.documents.update(changes.documents)
        for (document_id, user_id), role in changes.policies.items():
            roles = snapshot.policies.get(document_id)
            if roles is None:
                continue
            if role is None:
                roles.pop(user_id, None)
            else:
                roles[user_id] = role
