from __future__ import annotations

from domain.commands import ListFolderDocuments
from domain.errors import FolderNotFound
from domain.listing import WHOLE_LISTING_MAX_DOCUMENTS, DocumentPage, page_position
from domain.ports import ListingCache, UnitOfWork
from domain.use_cases.guards import require_member


def list_folder_documents(
    query: ListFolderDocuments,
    uow: UnitOfWork,
    cache: ListingCache,
    whole_at_most: int = WHOLE_LISTING_MAX_DOCUMENTS,
) -> DocumentPage:
    """Cache first, database on a miss; either way the same membership check and access filter. A
    folder of more than ``whole_at_most`` documents is not listed whole: the database reads the page.

    A bad limit or cursor is refused before anything is read, so it cannot even fill the cache."""
    after = page_position(query.limit, query.cursor)
    with uow:
        folder = uow.folders.get(query.folder_id)
        if folder is None:
            raise FolderNotFound(query.folder_id)
        require_member(uow, folder.org_id, query.requested_by)
        listing = cache.get_or_load(
            folder.id, folder.listing_version, lambda: uow.documents.listing(folder, whole_at_most)
        )
        if listing is None:
            return uow.documents.page(folder, query.requested_by, query.limit, after)
    return listing.page_for(query.requested_by, query.limit, after)
