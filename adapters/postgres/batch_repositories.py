"""The repositories of a message's unit of work in a batch: its own changes first, then the batch's
snapshot, then (for what the snapshot does not hold) the batch's transaction. Writes are held in the
message's ``MessageChanges`` until its unit of work commits; its documents and policies then go to the
batch's ``BatchWrites``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from adapters.postgres.batch_writes import BatchWrites
from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.listing import DocumentPage, FolderListing, PagePosition
from domain.model import Document, Folder
from domain.roles import Role

if TYPE_CHECKING:
    from adapters.postgres.batch_unit import Snapshot

_Entity = TypeVar("_Entity")
_Read = TypeVar("_Read")


class MessageChanges:
    """What one message changed, held until its unit of work commits, and read first by its repositories.

    The repositories hold this, not the unit of work that holds them: with no reference cycle, a message's
    objects are freed the moment it is done. A cycle per message left them all to Python's cyclic
    collector, which took 5 to 7 % of a worker's CPU under load and paused all of its threads for tens
    of milliseconds at a time (docs/performance.md).
    """

    def __init__(self, writes: BatchWrites, fail_batch: Callable[[], None]) -> None:
        self.writes = writes
        self._fail_batch = fail_batch
        self.held: list[Callable[[], None]] = []
        self.members: set[tuple[str, str]] = set()
        self.folders: dict[str, Folder] = {}
        self.documents: dict[str, Document] = {}
        self.policies: dict[tuple[str, str], Role | None] = {}

    def hold(self, write: Callable[[], None]) -> None:
        self.held.append(write)

    def read(self, query: Callable[..., _Read], *args: object) -> _Read:
        """Reads what the snapshot does not hold from the batch's transaction; a failure fails the batch."""
        try:
            return query(*args)
        except BaseException:
            self._fail_batch()
            raise


class _View:
    """A repository of one message's unit of work: its own changes, then the snapshot, then the database."""

    def __init__(self, changes: MessageChanges, transaction: SqlUnitOfWork, snapshot: Snapshot) -> None:
        self._changes, self._transaction, self._snapshot = changes, transaction, snapshot

    def _first_of(
        self,
        key: str,
        own: Mapping[str, _Entity],
        known: Mapping[str, _Entity | None],
        live: Callable[[str], _Entity | None],
    ) -> _Entity | None:
        if key in own:
            return own[key]
        if key in known:
            return known[key]
        return self._changes.read(live, key)


class BatchMembers(_View):
    def contains(self, org_id: str, user_id: str) -> bool:
        key = (org_id, user_id)
        if key in self._changes.members or key in self._snapshot.members:
            return True
        if user_id in self._snapshot.member_users and org_id in self._snapshot.member_orgs:
            return False
        return self._changes.read(self._transaction.members.contains, org_id, user_id)

    def add(self, org_id: str, user_id: str) -> None:
        self._changes.hold(partial(self._transaction.members.add, org_id, user_id))
        self._changes.members.add((org_id, user_id))


class BatchFolders(_View):
    def get(self, folder_id: str) -> Folder | None:
        changes, known = self._changes, self._snapshot.folders
        return self._first_of(folder_id, changes.folders, known, self._transaction.folders.get)

    def sibling_named(self, org_id: str, parent_id: str | None, name: str) -> Folder | None:
        for folder in self._changes.folders.values():
            if folder.is_sibling_named(org_id, parent_id, name):
                return folder
        return self._changes.read(self._transaction.folders.sibling_named, org_id, parent_id, name)

    def add(self, folder: Folder) -> None:
        self._changes.hold(partial(self._transaction.folders.add, folder))
        self._changes.folders[folder.id] = folder


class BatchDocuments(_View):
    def get(self, document_id: str) -> Document | None:
        """Documents of the snapshot were locked when the batch read them; others are locked now."""
        changes, known = self._changes, self._snapshot.documents
        return self._first_of(document_id, changes.documents, known, self._transaction.documents.get)

    def save(self, document: Document) -> None:
        self._changes.hold(partial(self._changes.writes.save_document, document))
        self._changes.documents[document.id] = document

    def listing(self, folder: Folder, at_most: int) -> FolderListing | None:
        return self._changes.read(self._transaction.documents.listing, folder, at_most)

    def page(self, folder: Folder, user_id: str, limit: int, after: PagePosition | None) -> DocumentPage:
        return self._changes.read(self._transaction.documents.page, folder, user_id, limit, after)


class BatchPolicies(_View):
    def role_of(self, document_id: str, user_id: str) -> Role | None:
        changed = self._changes.policies
        if (document_id, user_id) in changed:
            return changed[document_id, user_id]
        roles = self._snapshot.policies.get(document_id)
        if roles is not None:
            return roles.get(user_id)
        return self._changes.read(self._transaction.policies.role_of, document_id, user_id)

    def owners_of(self, document_id: str) -> frozenset[str]:
        roles = self._snapshot.policies.get(document_id)
        if roles is not None:
            owners = {user_id for user_id, role in roles.items() if role is Role.OWNER}
        else:
            owners = set(self._changes.read(self._transaction.policies.owners_of, document_id))
        for (changed_document, user_id), role in self._changes.policies.items():
            if changed_document == document_id:
                (owners.add if role is Role.OWNER else owners.discard)(user_id)
        return frozenset(owners)

    def put(self, document: Document, user_id: str, role: Role) -> None:
        self._changes.hold(partial(self._changes.writes.change_role, document, user_id, role))
        self._changes.policies[document.id, user_id] = role

    def remove(self, document: Document, user_id: str) -> None:
        self._changes.hold(partial(self._changes.writes.change_role, document, user_id, None))
        self._changes.policies[document.id, user_id] = None
