"""One message's unit of work inside a batch: reads from the batch's snapshot, writes held until commit.

What the snapshot does not hold is read from the batch's transaction, so every read is answered; a
message's own writes are visible to its own reads at once, and to the messages after it once it commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Protocol, Self, TypeVar

from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.errors import AlreadyApplied
from domain.events import Event
from domain.listing import FolderListing
from domain.model import Document, Folder
from domain.ports import DocumentRepository, FolderRepository, MemberRepository, PolicyRepository
from domain.roles import Role

_Read = TypeVar("_Read")


class _Batch(Protocol):
    def claim(self, message_id: str) -> None: ...

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
        self, transaction: SqlUnitOfWork, snapshot: Snapshot, message_id: str, batch: _Batch
    ) -> None:
        self._transaction = transaction
        self._snapshot = snapshot
        self._message_id = message_id
        self._batch = batch
        self._writes: list[Callable[[], None]] = []
        self._events: list[Event] = []
        self.added_members: set[tuple[str, str]] = set()
        self.added_folders: dict[str, Folder] = {}
        self.saved_documents: dict[str, Document] = {}
        self.changed_policies: dict[tuple[str, str], Role | None] = {}
        self.members = _Members(self, transaction, snapshot)
        self.folders = _Folders(self, transaction, snapshot)
        self.documents = _Documents(self, transaction, snapshot)
        self.policies = _Policies(self, transaction, snapshot)

    def __enter__(self) -> Self:
        if self._message_id in self._snapshot.applied_before | self._snapshot.applied_here:
            raise AlreadyApplied(self._message_id)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._writes, self._events = [], []

    def hold(self, write: Callable[[], None]) -> None:
        self._writes.append(write)

    def read(self, query: Callable[..., _Read], *args: object) -> _Read:
        """Reads what the snapshot does not hold from the batch's transaction; a failure fails the batch."""
        try:
            return query(*args)
        except BaseException:
            self._batch.fail()
            raise

    def record(self, event: Event) -> None:
        self._events.append(event)

    def commit(self) -> None:
        """Sends the message's writes into the batch's transaction (not waiting); its inbox row goes
        with the batch's commit."""
        try:
            for write in self._writes:
                write()
            for event in self._events:
                self._transaction.record(event)
        except BaseException:
            self._batch.fail()
            raise
        self._batch.claim(self._message_id)
        self._merge_into_snapshot()
        self._writes, self._events = [], []

    def rollback(self) -> None:
        self._writes, self._events = [], []

    def _merge_into_snapshot(self) -> None:
        snapshot = self._snapshot
        snapshot.applied_here.add(self._message_id)
        snapshot.members |= self.added_members
        snapshot.folders.update(self.added_folders)
        snapshot.documents.update(self.saved_documents)
        for (document_id, user_id), role in self.changed_policies.items():
            roles = snapshot.policies.get(document_id)
            if roles is None:
                continue
            if role is None:
                roles.pop(user_id, None)
            else:
                roles[user_id] = role


class _Members:
    def __init__(self, unit: BatchedUnitOfWork, transaction: SqlUnitOfWork, snapshot: Snapshot) -> None:
        self._unit, self._transaction, self._snapshot = unit, transaction, snapshot

    def contains(self, org_id: str, user_id: str) -> bool:
        key = (org_id, user_id)
        if key in self._unit.added_members or key in self._snapshot.members:
            return True
        if user_id in self._snapshot.member_users and org_id in self._snapshot.member_orgs:
            return False
        return self._unit.read(self._transaction.members.contains, org_id, user_id)

    def add(self, org_id: str, user_id: str) -> None:
        self._unit.hold(partial(self._transaction.members.add, org_id, user_id))
        self._unit.added_members.add((org_id, user_id))


class _Folders:
    def __init__(self, unit: BatchedUnitOfWork, transaction: SqlUnitOfWork, snapshot: Snapshot) -> None:
        self._unit, self._transaction, self._snapshot = unit, transaction, snapshot

    def get(self, folder_id: str) -> Folder | None:
        if folder_id in self._unit.added_folders:
            return self._unit.added_folders[folder_id]
        if folder_id in self._snapshot.folders:
            return self._snapshot.folders[folder_id]
        return self._unit.read(self._transaction.folders.get, folder_id)

    def sibling_named(self, org_id: str, parent_id: str | None, name: str) -> Folder | None:
        for folder in self._unit.added_folders.values():
            if folder.org_id == org_id and folder.parent_id == parent_id and folder.name == name:
                return folder
        return self._unit.read(self._transaction.folders.sibling_named, org_id, parent_id, name)

    def add(self, folder: Folder) -> None:
        self._unit.hold(partial(self._transaction.folders.add, folder))
        self._unit.added_folders[folder.id] = folder


class _Documents:
    def __init__(self, unit: BatchedUnitOfWork, transaction: SqlUnitOfWork, snapshot: Snapshot) -> None:
        self._unit, self._transaction, self._snapshot = unit, transaction, snapshot

    def get(self, document_id: str) -> Document | None:
        """Documents of the snapshot were locked when the batch read them; others are locked now."""
        if document_id in self._unit.saved_documents:
            return self._unit.saved_documents[document_id]
        if document_id in self._snapshot.documents:
            return self._snapshot.documents[document_id]
        return self._unit.read(self._transaction.documents.get, document_id)

    def save(self, document: Document) -> None:
        self._unit.hold(partial(self._transaction.documents.save, document))
        self._unit.saved_documents[document.id] = document

    def listing(self, folder: Folder) -> FolderListing:
        return self._unit.read(self._transaction.documents.listing, folder)


class _Policies:
    def __init__(self, unit: BatchedUnitOfWork, transaction: SqlUnitOfWork, snapshot: Snapshot) -> None:
        self._unit, self._transaction, self._snapshot = unit, transaction, snapshot

    def role_of(self, document_id: str, user_id: str) -> Role | None:
        changed = self._unit.changed_policies
        if (document_id, user_id) in changed:
            return changed[document_id, user_id]
        roles = self._snapshot.policies.get(document_id)
        if roles is not None:
            return roles.get(user_id)
        return self._unit.read(self._transaction.policies.role_of, document_id, user_id)

    def owners_of(self, document_id: str) -> frozenset[str]:
        roles = self._snapshot.policies.get(document_id)
        if roles is not None:
            owners = {user_id for user_id, role in roles.items() if role is Role.OWNER}
        else:
            owners = set(self._unit.read(self._transaction.policies.owners_of, document_id))
        for (changed_document, user_id), role in self._unit.changed_policies.items():
            if changed_document == document_id:
                (owners.add if role is Role.OWNER else owners.discard)(user_id)
        return frozenset(owners)

    def put(self, document: Document, user_id: str, role: Role) -> None:
        self._unit.hold(partial(self._transaction.policies.put, document, user_id, role))
        self._unit.changed_policies[document.id, user_id] = role

    def remove(self, document: Document, user_id: str) -> None:
        self._unit.hold(partial(self._transaction.policies.remove, document, user_id))
        self._unit.changed_policies[document.id, user_id] = None
