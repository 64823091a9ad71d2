"""Invalidations that fail while Valkey is unavailable are owed, and paid before Valkey is read again."""

from __future__ import annotations

import pytest
import valkey
from structlog.testing import capture_logs

from adapters.valkey.document_cache import ValkeyDocumentCache
from adapters.valkey.guard import CacheGuard
from adapters.valkey.listing_cache import ValkeyListingCache
from domain.listing import FolderListing
from tests.integration.test_valkey_support import (
    TTL_SECONDS,
    Clock,
    Switchable,
    a_document,
    degraded_lines,
)

pytestmark = pytest.mark.integration


def test_failed_invalidations_are_applied_before_valkey_is_read_again(
    dead: valkey.Valkey, live: valkey.Valkey, key_prefix: str
) -> None:
    client = Switchable(live)
    clock = Clock()
    guard = CacheGuard(client.as_client(), clock=clock)
    documents = ValkeyDocumentCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)
    listings = ValkeyListingCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)
    documents.put(a_document("doc-1"))
    documents.put(a_document("doc-2"))
    listings.put(FolderListing("folder-1", "org-1", 3, ()))

    client.target = dead
    documents.invalidate({"doc-1"})
    listings.invalidate({"folder-1"})
    assert guard.pending == {f"{key_prefix}document:doc-1", f"{key_prefix}listing:folder-1"}

    client.target = live
    clock.now += 5
    assert documents.get("doc-1") is None
    assert guard.pending == frozenset()
    assert live.exists(f"{key_prefix}listing:folder-1") == 0
    assert documents.get("doc-2") == a_document("doc-2")


def test_an_invalidation_skipped_during_the_cooldown_is_owed_too(
    dead: valkey.Valkey, live: valkey.Valkey, key_prefix: str
) -> None:
    client = Switchable(live)
    clock = Clock()
    guard = CacheGuard(client.as_client(), clock=clock)
    documents = ValkeyDocumentCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)
    documents.put(a_document("doc-1"))
    client.target = dead
    documents.get("doc-2")

    client.target = live
    documents.invalidate({"doc-1"})
    clock.now += 5

    assert documents.get("doc-1") is None


def test_owed_invalidations_are_bounded_and_a_lost_one_is_logged(
    dead: valkey.Valkey, live: valkey.Valkey, key_prefix: str
) -> None:
    client = Switchable(dead)
    clock = Clock()
    guard = CacheGuard(client.as_client(), clock=clock, max_pending=2)
    cache = ValkeyDocumentCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)

    with capture_logs() as logs:
        cache.invalidate({"doc-1", "doc-2", "doc-3"})
        assert len(guard.pending) == 2
        already_owed = next(iter(guard.pending)).removeprefix(f"{key_prefix}document:")
        cache.invalidate({already_owed})
        cache.invalidate({"doc-4"})
        client.target = live
        clock.now += 5
        cache.get("doc-1")

    assert guard.pending == frozenset()
    recovered = degraded_lines(logs)[-1]
    assert (recovered["event"], recovered["invalidations_lost"]) == ("valkey_cache_recovered", 2)
