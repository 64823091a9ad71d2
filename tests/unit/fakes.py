"""In-memory fakes of the ports: one database shared by many units of work, and a listing cache.

A ``FakeUnitOfWork`` behaves like a transaction: inside ``with`` its repositories read and write a private
working copy of the tables, and ``commit()`` replays the staged writes onto the shared ``FakeDatabase``
together with the recorded events, the inbox row and the listing_version bumps. Leaving the block without
committing discards everything staged.

Units of work of one database run one at a time, each holding the database's lock from ``with`` to its
end. Postgres's row locks and unique keys make racing transactions end as if they had run in turn (the
second to revoke an owner waits and finds the last one; the second folder of a name fails its key and is
refused when retried); working copies that interleaved would let a racing test pass on states the product
never reaches, such as a document with no owner left.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar

from domain.errors import AlreadyApplied, EventAlreadyRecorded
from domain.events import Event, stamped
from domain.listing import DocumentPage, FolderListing, ListedDocument, PagePosition
from domain.model import Document, Folder
from domain.ports import (
    DocumentRepository,
    FolderRepository,
    ListingCache,
    MemberRepository,
    PolicyRepository,
)
from domain.roles import Capability, Role

ORG = "acme"
OTHER_ORG = "globex"
FOLDER = "reports"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

E = TypeVar("E", bound=Event)


class FakeClock:
    """A clock for the use cases' ``now``: every call is one step later than the previous one."""

    def __init__(self, start: datetime = EPOCH, step: timedelta = timedelta(minutes=1)) -> None:
        self.current = start
        self.step = step

    def __call__(self) -> datetime:
        self.current += self.step
        return self.current


@dataclass
class Tables:
    """The rows: members by organization, folders, documents, and roles by document then user."""

    members: dict[str, set[str]] = field(default_factory=dict)
    folders: dict[str, Folder] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    policies: dict[str, dict[str, Role]] = field(default_factory=dict)

    def copy_tables(self) -> Tables:
        return Tables(
            members={org: set(users) for org, users in self.members.items()},
            folders=dict(self.folders),
            documents=dict(self.documents),
            policies={doc: dict(roles) for doc, roles in self.policies.items()},
        )

    def add_member(self, org_id: str, user_id: str) -> None:
        self.members.setdefault(org_id, set()).add(user_id)

    def add_folder(self, folder: Folder) -> None:
        self.folders[folder.id] = folder

    def save_document(self, document: Document) -> None:
        self.documents[document.id] = document

    def put_policy(self, document_id: str, user_id: str, role: Role) -> None:
        self.policies.setdefault(document_id, {})[user_id] = role

    def remove_policy(self, document_id: str, user_id: str) -> None:
        self.policies.get(document_id, {}).pop(user_id, None)


Write = Callable[[Tables], None]


@dataclass
class FakeDatabase(Tables):
    """The committed state, plus the inbox of applied message ids and every committed event."""

    applied_message_ids: set[str] = field(default_factory=set)
    fingerprints: dict[str, str] = field(default_factory=dict)  # the inbox's, of the ids that keep one
    events: list[Event] = field(default_factory=list)
    listing_reads: int = 0
    page_reads: int = 0  # pages read alone, of folders too large to list whole
    serial: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # -- builders: seed committed state directly, without events -------------------------------------------

    def with_member(self, *user_ids: str, org: str = ORG) -> Self:
        for user_id in user_ids:
            self.add_member(org, user_id)
        return self

    def with_folder(
        self, folder_id: str = FOLDER, *, org: str = ORG, name: str | None = None, parent: str | None = None
    ) -> Self:
        parent_folder = self.folders[parent] if parent is not None else None
        self.add_folder(
            Folder.create(
                folder_id=folder_id,
                org_id=org,
                name=name if name is not None else folder_id,
                parent=parent_folder,
                created_by="seed",
                now=EPOCH,
            )
        )
        return self

    def with_document(
        self,
        doc_id: str,
        *,
        owner: str,
        co_owners: Iterable[str] = (),
        editors: Iterable[str] = (),
        viewers: Iterable[str] = (),
        members: Iterable[str] = (),
        org: str = ORG,
        folder: str = FOLDER,
        name: str | None = None,
        created_at: datetime | None = None,
    ) -> Self:
        """A document and its roles; every user named joins ``org``; the folder is made if absent."""
        if folder not in self.folders:
            self.with_folder(folder, org=org)
        moment = created_at if created_at is not None else EPOCH + timedelta(minutes=len(self.documents) + 1)
        self.save_document(
            Document(
                id=doc_id,
                org_id=org,
                folder_id=folder,
                owner_id=owner,
                name=name if name is not None else f"{doc_id}.pdf",
                mime_type="application/pdf",
                version=1,
                blob_uri=f"s3://blobs/{doc_id}/1",
                tags=("seeded",),
                created_at=moment,
                updated_at=moment,
                uploaded_by=owner,
            )
        )
        grants = [(owner, Role.OWNER)]
        grants += [(user, Role.OWNER) for user in co_owners]
        grants += [(user, Role.EDITOR) for user in editors]
        grants += [(user, Role.VIEWER) for user in viewers]
        for user_id, role in grants:
            self.add_member(org, user_id)
            self.put_policy(doc_id, user_id, role)
        self.with_member(*members, org=org)
        return self

    def with_applied(self, *message_ids: str) -> Self:
        self.applied_message_ids.update(message_ids)
        return self

    # -- units of work ---------------------------------------------------------------------------------------

    def uow(self, message_id: str | None = None) -> FakeUnitOfWork:
        return FakeUnitOfWork(self, message_id)

    def spent_by(self, message_id: str) -> str | None:
        """As ``MessageHistory.spent_by``: the fingerprint kept with an applied id."""
        with self.serial:
            return self.fingerprints.get(message_id)

    def uow_factory(self) -> FakeUnitOfWorkFactory:
        return FakeUnitOfWorkFactory(self)

    # -- reading committed state -----------------------------------------------------------------------------

    def role_of(self, document_id: str, user_id: str) -> Role | None:
        return self.policies.get(document_id, {}).get(user_id)

    def roles_on(self, document_id: str) -> dict[str, Role]:
        return dict(self.policies.get(document_id, {}))

    def owners_of(self, document_id: str) -> set[str]:
        return {user for user, role in self.roles_on(document_id).items() if role is Role.OWNER}

    def listing_version(self, folder_id: str) -> int:
        return self.folders[folder_id].listing_version

    def events_of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    def state(self) -> Tables:
        """A copy of every row, to compare before and after a command."""
        return self.copy_tables()


class FakeUnitOfWork:
    """A faithful in-memory UnitOfWork: staged writes reach the database only on commit, and units of work
    of one database run in turn (the module's docstring)."""

    def __init__(
        self, db: FakeDatabase, message_id: str | None = None, fingerprint: str | None = None
    ) -> None:
        self.db = db
        self.message_id = message_id
        self.fingerprint = fingerprint
        self.committed = False
        self.recorded: list[Event] = []
        self.members: MemberRepository = FakeMemberRepository(self)
        self.folders: FolderRepository = FakeFolderRepository(self)
        self.documents: DocumentRepository = FakeDocumentRepository(self)
        self.policies: PolicyRepository = FakePolicyRepository(self)
        self._working: Tables | None = None
        self._writes: list[Write] = []
        self._pending: list[Event] = []
        self._changed_folders: set[str] = set()

    def __enter__(self) -> Self:
        self.db.serial.acquire()
        try:
            if self.message_id is not None and self.message_id in self.db.applied_message_ids:
                raise AlreadyApplied(self.message_id)
            self._begin()
        except BaseException:
            self.db.serial.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()
        self._working = None
        self.db.serial.release()

    def record(self, event: Event) -> None:
        self.tables()  # only inside the transaction
        self._pending.append(stamped(event, self.message_id))

    def commit(self) -> None:
        self.tables()
        if self.message_id is not None and self.message_id in self.db.applied_message_ids:
            raise AlreadyApplied(self.message_id)  # the inbox's unique key, checked again at commit
        recorded_ids = {event.event_id for event in self.db.events}
        for event in self._pending:
            if event.event_id in recorded_ids:
                raise EventAlreadyRecorded(event.event_id)  # the outbox's unique key on event_id
        for write in self._writes:
            write(self.db)
        for folder_id in self._changed_folders:
            folder = self.db.folders[folder_id]
            self.db.folders[folder_id] = replace(folder, listing_version=folder.listing_version + 1)
        if self.message_id is not None:
            self.db.applied_message_ids.add(self.message_id)
            if self.fingerprint is not None:
                self.db.fingerprints[self.message_id] = self.fingerprint
        self.db.events.extend(self._pending)
        self.recorded.extend(self._pending)
        self.committed = True
        self._begin()

    def rollback(self) -> None:
        if self._working is not None:
            self._begin()

    # -- for the repositories --------------------------------------------------------------------------------

    def tables(self) -> Tables:
        if self._working is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._working

    def stage(self, write: Write, *, folder_id: str | None = None) -> None:
        write(self.tables())
        self._writes.append(write)
        if folder_id is not None:
            self._changed_folders.add(folder_id)

    def _begin(self) -> None:
        self._working = self.db.copy_tables()
        self._writes = []
        self._pending = []
        self._changed_folders = set()


class FakeUnitOfWorkFactory:
    """Usable as ``domain.ports.UnitOfWorkFactory``; remembers every unit of work it opened."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.opened: list[FakeUnitOfWork] = []

    def __call__(self, message_id: str | None, fingerprint: str | None = None, /) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self.db, message_id, fingerprint)
        self.opened.append(uow)
        return uow


class FakeMemberRepository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def contains(self, org_id: str, user_id: str) -> bool:
        return user_id in self._uow.tables().members.get(org_id, set())

    def add(self, org_id: str, user_id: str) -> None:
        self._uow.stage(lambda tables: tables.add_member(org_id, user_id))


class FakeFolderRepository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, folder_id: str) -> Folder | None:
        return self._uow.tables().folders.get(folder_id)

    def sibling_named(self, org_id: str, parent_id: str | None, name: str) -> Folder | None:
        for folder in self._uow.tables().folders.values():
            if folder.is_sibling_named(org_id, parent_id, name):
                return folder
        return None

    def add(self, folder: Folder) -> None:
        self._uow.stage(lambda tables: tables.add_folder(folder))


class FakeDocumentRepository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def get(self, document_id: str) -> Document | None:
        return self._uow.tables().documents.get(document_id)

    def save(self, document: Document) -> None:
        self._uow.stage(lambda tables: tables.save_document(document), folder_id=document.folder_id)

    def listing(self, folder: Folder, at_most: int) -> FolderListing | None:
        whole = self._whole_listing(folder)
        if len(whole.entries) > at_most:
            return None
        self._uow.db.listing_reads += 1
        return whole

    def page(self, folder: Folder, user_id: str, limit: int, after: PagePosition | None) -> DocumentPage:
        self._uow.db.page_reads += 1
        return self._whole_listing(folder).page_for(user_id, limit, after)

    def _whole_listing(self, folder: Folder) -> FolderListing:
        tables = self._uow.tables()
        entries = [
            ListedDocument(
                document,
                frozenset(
                    user
                    for user, role in tables.policies.get(document.id, {}).items()
                    if role.can(Capability.VIEW)
                ),
            )
            for document in tables.documents.values()
            if document.folder_id == folder.id and document.org_id == folder.org_id
        ]
        return FolderListing.newest_first(folder.id, folder.org_id, folder.listing_version, entries)


class FakePolicyRepository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def role_of(self, document_id: str, user_id: str) -> Role | None:
        return self._uow.tables().policies.get(document_id, {}).get(user_id)

    def owners_of(self, document_id: str) -> frozenset[str]:
        roles = self._uow.tables().policies.get(document_id, {})
        return frozenset(user for user, role in roles.items() if role is Role.OWNER)

    def put(self, document: Document, user_id: str, role: Role) -> None:
        self._uow.stage(
            lambda tables: tables.put_policy(document.id, user_id, role), folder_id=document.folder_id
        )

    def remove(self, document: Document, user_id: str) -> None:
        self._uow.stage(
            lambda tables: tables.remove_policy(document.id, user_id), folder_id=document.folder_id
        )


class FakeListingCache(ListingCache):
    """A ListingCache in a dict: ``get`` answers only for the exact version, ``put`` never goes back."""

    def __init__(self) -> None:
        self.listings: dict[str, FolderListing] = {}
        self.hits = 0
        self.misses = 0

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        listing = self.listings.get(folder_id)
        if listing is not None and listing.version == version:
            self.hits += 1
            return listing
        self.misses += 1
        return None

    def put(self, listing: FolderListing) -> None:
        cached = self.listings.get(listing.folder_id)
        if cached is None or listing.version >= cached.version:
            self.listings[listing.folder_id] = listing

    def invalidate(self, folder_ids: set[str]) -> None:
        for folder_id in folder_ids:
            self.listings.pop(folder_id, None)
