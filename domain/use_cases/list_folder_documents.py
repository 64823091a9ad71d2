from __future__ import annotations

from domain.commands import ListFolderDocuments
from domain.errors import FolderNotFound
from domain.listing import (
    WHOLE_LISTING_MAX_CHARACTERS,
    WHOLE_LISTING_MAX_DOCUMENTS,
    DocumentPage,
    FolderListing,
    page_position,
)
from domain.ports import ListingCache, UnitOfWork
from domain.use_cases.guards import require_member


def list_folder_documents(
    query: ListFolderDocuments,
    uow: UnitOfWork,
    cache: ListingCache,
    whole_at_most: int = WHOLE_LISTING_MAX_DOCUMENTS,
    whole_characters_at_most: int = WHOLE_LISTING_MAX_CHARACTERS,
) -> DocumentPage:
    """Cache first, database on a miss; either way the same membership check and access filter. A
    folder of more than ``whole_at_most`` documents, or whose documents hold more than
    ``whole_characters_at_most`` characters of text, is not listed whole: the database reads the page.

    A bad limit or cursor is refused before anything is read, so it cannot even fill the cache."""
    after = page_position(query.limit, query.cursor)
    with uow:
        folder = uow.folders.get(query.folder_id)
        if folder is None:
            raise FolderNotFound(query.folder_id)
        require_member(uow, folder.org_id, query.requested_by, naming_it=False)

        def whole() -> FolderListing | None:
            return _within(uow.documents.listing(folder, whole_at_most), whole_characters_at_most)

        listing = cache.get_or_load(folder.id, folder.listing_version, whole)
        if listing is None:
            return uow.documents.page(folder, query.requested_by, query.limit, after)
    return listing.page_for(query.requested_by, query.limit, after)


def _within(listing: FolderListing | None, characters_at_most: int) -> FolderListing | None:
    """A listing too heavy to hold whole is none, as one of too many documents is: the folder is paged
    by the database (whose pages are the same), and a cache may remember it as too large."""
    return None if listing is None or listing.characters() > characters_at_most else listing
