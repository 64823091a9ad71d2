"""The in-process tier of the listing cache: exact versions only, bounded, and shared safely by threads."""

from __future__ import annotations

import time

from adapters.valkey.near_listings import NearListingCache
from domain.listing import FolderListing
from tests.support.threads import run_together, switching_often
from tests.unit.fakes import FakeListingCache
from tests.unit.listings import listing_of


def test_a_listing_read_from_the_shared_cache_is_then_served_from_memory() -> None:
    shared = FakeListingCache()
    shared.put(listing_of("f1", 3))
    near = NearListingCache(shared, max_documents=100)

    first = near.get("f1", 3)
    second = near.get("f1", 3)

    assert first is not None
    assert second is first
    assert (shared.hits, shared.misses) == (1, 0)


def test_another_version_is_asked_of_the_shared_cache_and_the_newer_one_is_kept() -> None:
    shared = FakeListingCache()
    near = NearListingCache(shared, max_documents=100)
    near.put(listing_of("f1", 3))
    shared.put(listing_of("f1", 4))

    assert near.get("f1", 4) is not None
    assert near.get("f1", 3) is None  # version 3 was replaced here, and in the shared cache
    assert shared.misses == 1


def test_an_older_listing_never_replaces_a_newer_one() -> None:
    shared = FakeListingCache()
    near = NearListingCache(shared, max_documents=100)
    near.put(listing_of("f1", 5))
    near.put(listing_of("f1", 4))
    shared.invalidate({"f1"})

    kept = near.get("f1", 5)
    assert kept is not None
    assert kept.version == 5


def test_invalidating_drops_the_folder_here_and_in_the_shared_cache() -> None:
    shared = FakeListingCache()
    near = NearListingCache(shared, max_documents=100)
    near.put(listing_of("f1", 1))

    near.invalidate({"f1"})

    assert near.get("f1", 1) is None
    assert shared.listings == {}
    assert near.held_documents() == 0


def test_the_folder_least_recently_used_leaves_first_when_the_bound_is_passed() -> None:
    shared = FakeListingCache()
    near = NearListingCache(shared, max_documents=6)
    for folder in ("f1", "f2", "f3"):
        near.put(listing_of(folder, 1, size=2))
    near.get("f1", 1)  # f2 is now the least recently used

    near.put(listing_of("f4", 1, size=2))
    shared.listings.clear()

    assert [near.get(folder, 1) is not None for folder in ("f1", "f2", "f3", "f4")] == [
        True,
        False,
        True,
        True,
    ]
    assert near.held_documents() == 6


def test_a_listing_larger_than_the_bound_is_not_kept_in_memory() -> None:
    shared = FakeListingCache()
    near = NearListingCache(shared, max_documents=3)

    near.put(listing_of("f1", 1, size=4))

    assert near.held_documents() == 0
    assert shared.listings["f1"].version == 1


def test_empty_listings_count_one_each_so_they_cannot_pile_up() -> None:
    near = NearListingCache(FakeListingCache(), max_documents=50)

    for n in range(200):
        near.put(listing_of(f"empty-{n}", 1, size=0))

    assert near.held_documents() == 50
    assert len(near._listings) == 50


def test_readers_beyond_two_weigh_a_tenth_of_a_document_each() -> None:
    near = NearListingCache(FakeListingCache(), max_documents=50)

    near.put(listing_of("widely-shared", 1, size=10, readers=52))  # 10 documents, 500 readers beyond two
    assert near.held_documents() == 0  # weighs 10 + 500 / 10 = 60: over the bound, not kept

    near.put(listing_of("shared", 1, size=10, readers=22))
    assert near.held_documents() == 10 + 10 * 20 // 10


class _ForgetfulCache(FakeListingCache):
    """Keeps nothing: every listing read back below comes from memory."""

    def put(self, listing: FolderListing) -> None:
        pass


class _YieldingId(str):
    """A folder id whose every hashing lets another thread run: each dict operation on it, inside the
    cache or not, becomes a point where the threads below interleave, as they seldom do otherwise."""

    def __hash__(self) -> int:
        time.sleep(0)  # releases the GIL
        return str.__hash__(self)


def test_threads_putting_and_reading_keep_the_count_of_held_documents_exact() -> None:
    near = NearListingCache(_ForgetfulCache(), max_documents=50)
    listings = [
        listing_of(_YieldingId(f"f{i % 13}"), version, size=1 + i % 4)
        for i, version in enumerate(range(2000))
    ]

    def work(offset: int) -> None:
        for listing in listings[offset::4]:
            near.put(listing)
            near.get(listing.folder_id, listing.version)
            if listing.version % 7 == 0:
                near.invalidate({listing.folder_id})

    with switching_often():
        errors = run_together(work, 4)

    assert errors == []
    held = [near.get(f"f{i}", version) for i in range(13) for version in range(2000)]
    assert near.held_documents() == sum(len(listing.entries) for listing in held if listing is not None)
    assert near.held_documents() <= 50


def test_a_listing_loaded_while_the_database_was_replaced_is_neither_kept_nor_shared() -> None:
    """The load read the old database; ``forget_all`` (the new one seen on a connection) came meanwhile."""
    shared = FakeListingCache()
    near = NearListingCache(shared, max_documents=100)

    def load_across_a_replacement() -> FolderListing:
        near.forget_all()
        return listing_of("f1", 3)

    loaded = near.get_or_load("f1", 3, load_across_a_replacement)

    assert loaded is not None
    assert loaded.version == 3  # the caller still gets its answer
    assert near.held_documents() == 0
    assert shared.listings == {}


class _ReplacedWhileReading(FakeListingCache):
    """A shared cache whose read returns while the database is being replaced under the process."""

    def __init__(self, near: list[NearListingCache]) -> None:
        super().__init__()
        self._near = near

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        listing = super().get(folder_id, version)
        self._near[0].forget_all()
        return listing


def test_a_listing_read_from_the_shared_cache_while_the_database_was_replaced_is_not_kept() -> None:
    holder: list[NearListingCache] = []
    shared = _ReplacedWhileReading(holder)
    shared.put(listing_of("f1", 3))
    holder.append(NearListingCache(shared, max_documents=100))

    assert holder[0].get("f1", 3) is not None
    assert holder[0].held_documents() == 0
