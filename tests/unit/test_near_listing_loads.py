"""Threads of one process that miss the same version of a folder at once share one read of it."""

from __future__ import annotations

import threading

from adapters.valkey.near_listings import NearListingCache
from domain.listing import FolderListing
from tests.unit.fakes import FakeListingCache
from tests.unit.listings import listing_of


class _EmptySharedCache(FakeListingCache):
    """Misses every lookup and counts them, so that a test can wait until its threads have all missed."""

    def __init__(self) -> None:
        super().__init__()
        self._missed = threading.Condition()

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        with self._missed:
            self.misses += 1
            self._missed.notify_all()
        return None

    def wait_for_misses(self, count: int) -> None:
        with self._missed:
            assert self._missed.wait_for(lambda: self.misses >= count, timeout=10), "the threads never missed"


class _HeldLoads:
    """A load of f1 version 2 that waits for ``release``; the first one fails when ``leader_fails``."""

    def __init__(self, *, leader_fails: bool = False) -> None:
        self.release = threading.Event()
        self.calls = 0
        self._leader_fails = leader_fails
        self._lock = threading.Lock()

    def __call__(self) -> FolderListing:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        assert self.release.wait(10), "never released"
        if first and self._leader_fails:
            raise RuntimeError("the leader's read failed")
        return listing_of("f1", 2)


Outcomes = tuple[list[FolderListing], list[Exception]]


def _miss_together(shared: _EmptySharedCache, load: _HeldLoads, readers: int) -> Outcomes:
    """Starts ``readers`` threads on one version, all missing the shared cache; then releases the load.
    Returns the listings they got and the errors they raised."""
    near = NearListingCache(shared, max_documents=100)
    results: list[FolderListing | Exception] = []
    lock = threading.Lock()

    def read() -> None:
        try:
            listing = near.get_or_load("f1", 2, load)
            assert listing is not None
            outcome: FolderListing | Exception = listing
        except RuntimeError as error:
            outcome = error
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    shared.wait_for_misses(readers)
    load.release.set()
    for thread in threads:
        thread.join(10)
    listings = [result for result in results if isinstance(result, FolderListing)]
    return listings, [result for result in results if isinstance(result, Exception)]


def test_threads_missing_the_same_version_share_one_load() -> None:
    load = _HeldLoads()

    listings, errors = _miss_together(_EmptySharedCache(), load, readers=8)

    assert errors == []
    assert len(listings) == 8
    assert load.calls == 1, "each thread read the folder itself"
    assert all(listing is listings[0] for listing in listings)


def test_when_the_shared_load_fails_the_waiting_threads_load_for_themselves() -> None:
    load = _HeldLoads(leader_fails=True)

    listings, errors = _miss_together(_EmptySharedCache(), load, readers=6)

    assert [str(error) for error in errors] == ["the leader's read failed"], "only the leader's call fails"
    assert len(listings) == 5
    assert load.calls >= 2


def test_a_load_that_does_not_end_in_time_is_not_waited_for() -> None:
    started, never = threading.Event(), threading.Event()
    near = NearListingCache(_EmptySharedCache(), max_documents=100, load_wait_s=0.05)

    def stuck_load() -> FolderListing:
        started.set()
        never.wait(10)
        return listing_of("f1", 2)

    leader = threading.Thread(target=near.get_or_load, args=("f1", 2, stuck_load))
    leader.start()
    assert started.wait(10)
    try:
        own = near.get_or_load("f1", 2, lambda: listing_of("f1", 2, size=3))
    finally:
        never.set()
        leader.join(10)
    assert own is not None
    assert len(own.entries) == 3, "it waited for the stuck load instead of reading for itself"
