"""The ports: what the use cases need from the outside world, as structural protocols."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from domain.events import Event
from domain.listing import DocumentPage, FolderListing, PagePosition
from domain.model import Document, Folder
from domain.roles import Role


class MemberRepository(Protocol):
    def contains(self, org_id: str, user_id: str) -> bool: ...

    def add(self, org_id: str, user_id: str) -> None:
        """Adds the membership, creating the organization on its first member."""


class FolderRepository(Protocol):
    def get(self, folder_id: str) -> Folder | None: ...

    def sibling_named(self, org_id: str, parent_id: str | None, name: str) -> Folder | None: ...

    def add(self, folder: Folder) -> None: ...


class DocumentRepository(Protocol):
    def get(self, document_id: str) -> Document | None:
        """The document, held for the rest of the unit of work: rules that read several rows of one
        document (the last owner, the next version number) stay true when units of work race."""

    def save(self, document: Document) -> None:
        """Inserts a first version or replaces the stored one with a later version."""

    def listing(self, folder: Folder, at_most: int) -> FolderListing | None:
        """Every document of the folder (scoped to its organization) with the users who may view it;
        None, having read no document, when the folder holds more than ``at_most``."""

    def page(self, folder: Folder, user_id: str, limit: int, after: PagePosition | None) -> DocumentPage:
        """The page ``FolderListing.page_for`` would cut from the folder's listing, read on its own."""


class PolicyRepository(Protocol):
    def role_of(self, document_id: str, user_id: str) -> Role | None: ...

    def owners_of(self, document_id: str) -> frozenset[str]: ...

    def put(self, document: Document, user_id: str, role: Role) -> None: ...

    def remove(self, document: Document, user_id: str) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: state changes and the events they recorded commit together, or not at all.

    Leaving the ``with`` block without ``commit()`` rolls back. Caches are invalidated only after a
    successful commit. Committing a change to a folder's documents, or to their policies, raises that
    folder's ``listing_version``, so a cached listing of an older version is never served. A unit of
    work opened for a message id raises ``AlreadyApplied`` on entry when that message was applied
    before; otherwise it records the message id with the transaction (the inbox).
    """

    members: MemberRepository
    folders: FolderRepository
    documents: DocumentRepository
    policies: PolicyRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def record(self, event: Event) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Opens a unit of work for a message id (None: no message). With the id, the inbox keeps the
    ``fingerprint`` of the command the message carried (``domain.commands.fingerprint``), so that a
    different command sent later under the same id can be told from a copy of this one."""

    def __call__(self, message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork: ...


class ListingCache(Protocol):
    """Cache-aside store for folder listings. It never raises: an unavailable cache is a miss."""

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        """The cached listing of exactly this version of the folder, or None."""

    def put(self, listing: FolderListing) -> None:
        """Stores the listing unless a newer version is already cached."""

    def invalidate(self, folder_ids: set[str]) -> None: ...

    def get_or_load(
        self, folder_id: str, version: int, load: Callable[[], FolderListing | None]
    ) -> FolderListing | None:
        """The cached listing of this version, else ``load()``'s, stored; None when ``load`` gives none
        (the folder is too large to list whole). A cache may let concurrent callers for one version
        share one load: any of them built it from that version's state."""
        listing = self.get(folder_id, version)
        if listing is None:
            listing = load()
            if listing is not None:
                self.put(listing)
        return listing
