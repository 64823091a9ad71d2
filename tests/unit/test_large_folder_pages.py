"""A folder above the whole-listing limit is paged by the database alone and never cached."""

from __future__ import annotations

from adapters.valkey.near_listings import NearListingCache
from domain.commands import ListFolderDocuments
from domain.listing import FolderListing
from domain.use_cases.list_folder_documents import list_folder_documents
from tests.unit.fakes import FOLDER, FakeDatabase, FakeListingCache
from tests.unit.listings import listing_of

WHOLE_AT_MOST = 4


def _folder_of(size: int) -> FakeDatabase:
    """bob views every other document; alice owns them all."""
    db = FakeDatabase().with_folder().with_member("bob")
    for index in range(size):
        db.with_document(f"d{index:02}", owner="alice", viewers=["bob"] if index % 2 == 0 else [])
    return db


def _walk(db: FakeDatabase, user: str, cache: FakeListingCache, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = ListFolderDocuments(folder_id=FOLDER, requested_by=user, limit=limit, cursor=cursor)
        page = list_folder_documents(query, db.uow(), cache, whole_at_most=WHOLE_AT_MOST)
        seen += [document.id for document in page.documents]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_a_folder_over_the_limit_is_read_a_page_at_a_time_and_never_cached() -> None:
    db, cache = _folder_of(WHOLE_AT_MOST + 3), FakeListingCache()

    seen = _walk(db, "bob", cache, limit=2)

    assert seen == ["d06", "d04", "d02", "d00"]
    assert (db.page_reads, db.listing_reads) == (2, 0)
    assert cache.listings == {}


def test_a_folder_at_the_limit_is_still_listed_whole_and_cached() -> None:
    db, cache = _folder_of(WHOLE_AT_MOST), FakeListingCache()

    assert _walk(db, "alice", cache, limit=3) == ["d03", "d02", "d01", "d00"]
    assert (db.page_reads, db.listing_reads) == (0, 1)
    assert set(cache.listings) == {FOLDER}


def test_pages_read_alone_are_the_pages_a_whole_listing_gives() -> None:
    db = _folder_of(WHOLE_AT_MOST + 5)
    for user in ("alice", "bob"):
        for limit in (1, 2, 5, 100):
            alone = _walk(db, user, FakeListingCache(), limit)
            query = ListFolderDocuments(folder_id=FOLDER, requested_by=user, limit=1000)
            whole = list_folder_documents(query, db.uow(), FakeListingCache(), whole_at_most=1000)
            assert alone == [document.id for document in whole.documents]


class _Shared(FakeListingCache):
    def get(self, folder_id: str, version: int) -> FolderListing | None:
        return None


def test_the_near_cache_keeps_and_stores_nothing_when_a_load_gives_no_listing() -> None:
    shared = _Shared()
    near = NearListingCache(shared, max_documents=100)
    loads: list[str] = []

    def too_large() -> FolderListing | None:
        loads.append("read")
        return None

    assert near.get_or_load("f1", 2, too_large) is None
    assert near.get_or_load("f1", 2, too_large) is None
    assert loads == ["read", "read"]
    assert (shared.listings, near.held_documents()) == ({}, 0)
    assert near.get_or_load("f1", 2, lambda: listing_of("f1", 2)) == listing_of("f1", 2)
