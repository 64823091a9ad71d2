"""Cache lookups and degraded calls, counted around the Valkey adapters by the composition root.

The adapters know nothing of Prometheus: ``CountingListingCache`` decorates the ``ListingCache`` port, and
``CountingOutage`` is the ``Outage`` reporter the cache guard calls for every call it answers with the
fallback. Outside a booted worker process with metrics installed, both helpers return the plain parts.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.valkey.outage import LogLine, Outage
from domain.listing import FolderListing
from domain.ports import ListingCache
from workers.metrics.definitions import LISTING, WorkerMetrics
from workers.metrics.worker import current


class CountingListingCache(ListingCache):
    """A ``ListingCache`` that counts each lookup as a hit or a miss, then does what the inner one does."""

    def __init__(self, inner: ListingCache, metrics: WorkerMetrics) -> None:
        self._inner = inner
        self._lookups = metrics.cache_lookups

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        listing = self._inner.get(folder_id, version)
        self._lookups.labels(LISTING, "miss" if listing is None else "hit").inc()
        return listing

    def put(self, listing: FolderListing) -> None:
        self._inner.put(listing)

    def get_or_load(
        self, folder_id: str, version: int, load: Callable[[], FolderListing | None]
    ) -> FolderListing | None:
        """A miss when this call read the database, or will (a folder too large to list whole); a hit
        when it was served without, if only by waiting for another thread's load of the same version."""
        loaded = False

        def counted_load() -> FolderListing | None:
            nonlocal loaded
            loaded = True
            return load()

        listing = self._inner.get_or_load(folder_id, version, counted_load)
        # None: a folder too large to list whole, whose page is read from Postgres, if not by this load
        self._lookups.labels(LISTING, "miss" if loaded or listing is None else "hit").inc()
        return listing

    def invalidate(self, folder_ids: set[str]) -> None:
        self._inner.invalidate(folder_ids)


class CountingOutage(Outage):
    """Counts every degraded call (a failed one, or one skipped while Valkey cools down)."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        super().__init__()
        self._degraded_calls_counter = metrics.cache_degraded

    def failed(self, now: float, error: Exception) -> LogLine | None:
        self._degraded_calls_counter.inc()
        return super().failed(now, error)

    def skipped(self, now: float) -> LogLine | None:
        self._degraded_calls_counter.inc()
        return super().skipped(now)


def counted_listings(listings: ListingCache) -> ListingCache:
    metrics = current()
    return listings if metrics is None else CountingListingCache(listings, metrics)


def counting_outage() -> Outage:
    metrics = current()
    return Outage() if metrics is None else CountingOutage(metrics)
