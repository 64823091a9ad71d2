"""A folder above the whole-listing limit is paged by the database alone and never cached."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.valkey import near_listings
from adapters.valkey.near_listings import NearListingCache
from domain import listing as listing_module
from domain.commands import ListFolderDocuments
from domain.listing import FolderListing
from domain.use_cases.list_folder_documents import list_folder_documents
from tests.unit.fakes import FOLDER, FakeDatabase, FakeListingCache
from tests.unit.listings import listing_of
from workers.metrics.cache import CountingListingCache
from workers.metrics.definitions import WorkerMetrics

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
    """A shared tier that always misses and counts its lookups."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        self.asked += 1
        return None


def _too_large(loads: list[str]) -> Callable[[], FolderListing | None]:
    def load() -> FolderListing | None:
        loads.append("counted")
        return None

    return load


def test_a_folder_too_large_is_remembered_and_its_next_pages_skip_both_tiers_and_the_count() -> None:
    shared, loads = _Shared(), list[str]()
    near = NearListingCache(shared, max_documents=100)
    near.put(listing_of("f1", 1))

    assert near.get_or_load("f1", 2, _too_large(loads)) is None
    assert near.get_or_load("f1", 3, _too_large(loads)) is None

    assert (loads, shared.asked) == (["counted"], 1)
    assert near.held_documents() == 0, "the folder's smaller listing was let go"
    assert shared.listings == {"f1": listing_of("f1", 1)}, "nothing stored for it"


def test_a_new_database_forgets_which_folders_were_too_large() -> None:
    loads: list[str] = []
    near = NearListingCache(_Shared(), max_documents=100)
    near.get_or_load("f1", 2, _too_large(loads))

    near.forget_all()

    assert near.get_or_load("f1", 2, lambda: listing_of("f1", 2)) == listing_of("f1", 2)


def test_only_the_folders_last_asked_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(near_listings, "TOO_LARGE_KEPT", 2)
    loads: list[str] = []
    near = NearListingCache(_Shared(), max_documents=100)
    for folder in ("f1", "f2", "f1", "f3"):  # f1 asked again: f2 is the one to leave
        near.get_or_load(folder, 1, _too_large(loads))

    assert near.get_or_load("f2", 1, lambda: listing_of("f2", 1)) == listing_of("f2", 1)
    assert near.get_or_load("f1", 1, lambda: listing_of("f1", 1)) is None
    assert loads == ["counted"] * 3


def test_a_page_of_a_folder_too_large_counts_as_a_miss_even_when_no_count_was_read() -> None:
    metrics = WorkerMetrics()
    cache = CountingListingCache(NearListingCache(_Shared(), max_documents=100), metrics)
    cache.get_or_load("f1", 1, _too_large([]))
    cache.get_or_load("f1", 1, _too_large([]))
    cache.get_or_load("f2", 1, lambda: listing_of("f2", 1))
    cache.get_or_load("f2", 1, lambda: listing_of("f2", 1))

    counted = {
        sample.labels["result"]: sample.value
        for family in metrics.cache_lookups.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    assert counted == {"hit": 1, "miss": 3}


def _whole_listing(db: FakeDatabase) -> FolderListing:
    uow = db.uow()
    with uow:
        listing = uow.documents.listing(db.folders[FOLDER], at_most=1000)
    assert listing is not None
    return listing


def test_a_folder_whose_text_is_over_the_limit_is_paged_and_not_cached_however_few_its_documents() -> None:
    db, cache = _folder_of(3), FakeListingCache()
    query = ListFolderDocuments(folder_id=FOLDER, requested_by="alice", limit=2)
    limit = _whole_listing(db).characters()

    heavy = list_folder_documents(query, db.uow(), cache, whole_characters_at_most=limit - 1)
    at_the_limit = list_folder_documents(query, db.uow(), FakeListingCache(), whole_characters_at_most=limit)

    assert heavy == at_the_limit
    assert cache.listings == {}, "a listing over the limit is not cached"
    assert db.page_reads == 1


def test_a_listing_counts_the_text_of_its_documents_and_readers() -> None:
    db = FakeDatabase().with_folder().with_member("bob")
    db.with_document("doc", owner="alice", viewers=["bob"])
    listing = _whole_listing(db)
    [entry] = listing.entries
    document = entry.document
    texts = [document.id, document.owner_id, document.uploaded_by, document.name, document.mime_type]
    texts += [document.blob_uri, *document.tags, *entry.readers]

    assert listing.characters() == sum(map(len, texts))
    assert set(entry.readers) == {"alice", "bob"}


def test_a_process_keeping_no_listing_still_remembers_the_folders_too_large_to_list_whole() -> None:
    """LISTING_MEMORY_DOCUMENTS=0: without the memory, each page would load the whole folder again."""
    shared, loads = _Shared(), list[str]()
    near = NearListingCache(shared, max_documents=0)

    assert near.get_or_load("f1", 1, _too_large(loads)) is None
    assert near.get_or_load("f1", 1, _too_large(loads)) is None
    assert near.get_or_load("f2", 1, lambda: listing_of("f2", 1)) == listing_of("f2", 1)

    assert loads == ["counted"]
    assert near.held_documents() == 0, "no listing kept"
    assert shared.listings == {"f2": listing_of("f2", 1)}, "the shared tier still stores what is loaded"


@pytest.mark.parametrize("whole_at_most", [WHOLE_AT_MOST + 10, 1], ids=["cached listing", "database pages"])
def test_a_page_stops_short_of_its_limit_where_its_text_would_pass_the_budget(
    monkeypatch: pytest.MonkeyPatch, whole_at_most: int
) -> None:
    """One query must not make an answer of tens of MB: a page holds what fits, and its cursor goes on."""
    db = _folder_of(7)
    one_document = _whole_listing(db).characters() // 7 - len("alice")  # every document's text is alike
    monkeypatch.setattr(listing_module, "PAGE_MAX_CHARACTERS", 2 * one_document)
    sizes: list[int] = []
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = ListFolderDocuments(folder_id=FOLDER, requested_by="alice", limit=10, cursor=cursor)
        page = list_folder_documents(query, db.uow(), FakeListingCache(), whole_at_most=whole_at_most)
        sizes.append(len(page.documents))
        seen += [document.id for document in page.documents]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert sizes == [2, 2, 2, 1]
    assert seen == [f"d{index:02}" for index in reversed(range(7))], "every document once, in order"


def test_a_document_over_the_budget_alone_still_makes_a_page(monkeypatch: pytest.MonkeyPatch) -> None:
    db = _folder_of(3)
    monkeypatch.setattr(listing_module, "PAGE_MAX_CHARACTERS", 1)
    query = ListFolderDocuments(folder_id=FOLDER, requested_by="alice", limit=10)

    page = list_folder_documents(query, db.uow(), FakeListingCache())

    assert [document.id for document in page.documents] == ["d02"]
    assert page.next_cursor is not None
