"""The parts of the worker's ``Application`` that ``Application.from_settings`` builds from more than one
adapter: the listing cache, and the hooks that keep it in step with what commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from domain.ports import ListingCache
from workers.batching import Job, OpenBatch
from workers.settings import Settings

if TYPE_CHECKING:
    import valkey
    from sqlalchemy import Engine

    from adapters.postgres.batch import SqlBatch
    from adapters.postgres.unit_of_work import OnCommitted


def listing_cache(settings: Settings, client: valkey.Valkey, engine: Engine) -> ListingCache:
    """Valkey, shared by the fleet, behind this process's decoded listings (none kept at a
    ``LISTING_MEMORY_DOCUMENTS`` of 0); those are forgotten when the database is replaced under the
    process."""
    from adapters.postgres.identity import WatchedIdentity
    from adapters.valkey.guard import CacheGuard
    from adapters.valkey.listing_cache import ValkeyListingCache
    from adapters.valkey.near_listings import NearListingCache
    from workers.metrics.cache import counted_listings, counting_outage

    guard = CacheGuard(client, outage=counting_outage())
    database = WatchedIdentity(engine)
    prefix, ttl = settings.cache_prefix, settings.cache_ttl_seconds
    shared = ValkeyListingCache(client, prefix, ttl, guard=guard, database=database)
    # At 0 it keeps no listing, but still remembers the folders too large to list whole, and shares loads.
    near = NearListingCache(shared, settings.listing_memory_documents)
    database.on_change(near.forget_all)
    return counted_listings(near)


def invalidating(listings: ListingCache) -> OnCommitted:
    """What a transaction calls once it commits: only listings are read through the cache; documents are
    cached as entries of their listing."""

    def on_committed(folder_ids: set[str], document_ids: set[str]) -> None:
        listings.invalidate(folder_ids)

    return on_committed


def sql_batches(engine: Engine, on_committed: OnCommitted) -> OpenBatch:
    """Opens the transaction a batch of commands shares (group commit), keyed by their messages."""
    from adapters.postgres.batch import BatchKeys, SqlBatch

    def open_batch(jobs: Sequence[Job]) -> SqlBatch:
        return SqlBatch(engine, BatchKeys.of((job.message_id, job.command) for job in jobs), on_committed)

    return open_batch
