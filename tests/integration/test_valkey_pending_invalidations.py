"""Invalidations that fail while Valkey is unavailable are owed, and paid before Valkey is read again."""

from __future__ import annotations

import pytest
import valkey
from structlog.testing import capture_logs

from adapters.valkey.guard import CacheGuard
from adapters.valkey.listing_cache import ValkeyListingCache
from tests.integration.test_valkey_support import (
    TTL_SECONDS,
    Switchable,
    a_listing,
    degraded_lines,
)
from tests.support.clocks import Clock

pytestmark = pytest.mark.integration


def test_failed_invalidations_are_applied_before_valkey_is_read_again(
    dead: valkey.Valkey, live: valkey.Valkey, key_prefix: str
) -> None:
    client = Switchable(live)
    clock = Clock()
    guard = CacheGuard(client.as_client(), clock=clock)
    listings = ValkeyListingCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)
    for folder_id in ("folder-1", "folder-2", "folder-3"):
        listings.put(a_listing(folder_id, 3, "doc-1"))

    client.target = dead
    listings.invalidate({"folder-1"})
    listings.invalidate({"folder-3"})
    assert guard.pending == {f"{key_prefix}listing:folder-1", f"{key_prefix}listing:folder-3"}

    client.target = live
    clock.now += 5
    assert listings.get("folder-1", 3) is None
    assert guard.pending == frozenset()
    assert live.exists(f"{key_prefix}listing:folder-3") == 0
    assert listings.get("folder-2", 3) == a_listing("folder-2", 3, "doc-1")


def test_an_invalidation_skipped_during_the_cooldown_is_owed_too(
    dead: valkey.Valkey, live: valkey.Valkey, key_prefix: str
) -> None:
    client = Switchable(live)
    clock = Clock()
    guard = CacheGuard(client.as_client(), clock=clock)
    listings = ValkeyListingCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)
    listings.put(a_listing("folder-1", 3, "doc-1"))
    client.target = dead
    listings.get("folder-2", 3)

    client.target = live
    listings.invalidate({"folder-1"})
    clock.now += 5

    assert listings.get("folder-1", 3) is None


def test_owed_invalidations_are_bounded_and_a_lost_one_is_logged(
    dead: valkey.Valkey, live: valkey.Valkey, key_prefix: str
) -> None:
    client = Switchable(dead)
    clock = Clock()
    guard = CacheGuard(client.as_client(), clock=clock, max_pending=2)
    cache = ValkeyListingCache(client.as_client(), key_prefix, TTL_SECONDS, guard=guard)

    with capture_logs() as logs:
        cache.invalidate({"folder-1", "folder-2", "folder-3"})
        assert len(guard.pending) == 2
        already_owed = next(iter(guard.pending)).removeprefix(f"{key_prefix}listing:")
        cache.invalidate({already_owed})
        cache.invalidate({"folder-4"})
        client.target = live
        clock.now += 5
        cache.get("folder-1", 1)

    assert guard.pending == frozenset()
    recovered = degraded_lines(logs)[-1]
    assert (recovered["event"], recovered["invalidations_lost"]) == ("valkey_cache_recovered", 2)
