from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import UTC
from typing import cast

import pytest
import valkey
from structlog.testing import capture_logs

from adapters.valkey import listing_cache
from adapters.valkey.client import connect
from adapters.valkey.codec import encode_listing
from adapters.valkey.guard import CacheGuard
from adapters.valkey.listing_cache import ValkeyListingCache
from domain.listing import FolderListing
from tests.integration.test_valkey_support import NOTHING_LISTENS, TTL_SECONDS, a_listing

pytestmark = pytest.mark.integration


@pytest.fixture
def client(valkey_url: str) -> Iterator[valkey.Valkey]:
    with closing(connect(valkey_url)) as client:
        yield client


@pytest.fixture
def cache(client: valkey.Valkey, key_prefix: str) -> ValkeyListingCache:
    return ValkeyListingCache(client, key_prefix, TTL_SECONDS)


def test_a_cached_listing_comes_back_equal_with_real_datetimes(cache: ValkeyListingCache) -> None:
    listing = a_listing("folder-1", 4, "doc-1", "doc-2", "doc-3")
    cache.put(listing)

    cached = cache.get("folder-1", 4)

    assert cached == listing
    assert cached is not None
    assert all(entry.document.created_at.tzinfo is UTC for entry in cached.entries)
    assert all(entry.document.updated_at.tzinfo is UTC for entry in cached.entries)
    assert all(entry.document.tags == ("finance", "q3") for entry in cached.entries)
    assert cached.page_for("reader-of-doc-2", 10, None).documents == (listing.entries[1].document,)


def test_an_empty_folder_is_a_hit(cache: ValkeyListingCache) -> None:
    cache.put(a_listing("folder-1", 0))

    assert cache.get("folder-1", 0) == FolderListing("folder-1", "org-1", 0, ())


def test_a_folder_never_cached_misses(cache: ValkeyListingCache) -> None:
    assert cache.get("folder-1", 0) is None


# 4: what a slow reader loaded before a writer's commit, stored after it (and after its invalidation), is
# never served for the version the commit made.
@pytest.mark.parametrize("asked", [2, 4])
def test_another_version_misses(cache: ValkeyListingCache, asked: int) -> None:
    cache.put(a_listing("folder-1", 3, "doc-1"))

    assert cache.get("folder-1", asked) is None


def test_an_older_listing_never_replaces_a_newer_one(cache: ValkeyListingCache) -> None:
    newer = a_listing("folder-1", 5, "doc-1", "doc-2")
    cache.put(newer)

    cache.put(a_listing("folder-1", 4, "doc-1"))

    assert cache.get("folder-1", 5) == newer
    assert cache.get("folder-1", 4) is None


def test_a_newer_listing_replaces_an_older_one(cache: ValkeyListingCache) -> None:
    cache.put(a_listing("folder-1", 4, "doc-1"))
    newer = a_listing("folder-1", 5, "doc-1", "doc-2")

    cache.put(newer)

    assert cache.get("folder-1", 5) == newer
    assert cache.get("folder-1", 4) is None


def test_the_same_version_is_stored_again(cache: ValkeyListingCache) -> None:
    cache.put(a_listing("folder-1", 2, "doc-1"))
    again = a_listing("folder-1", 2, "doc-1", "doc-2")

    cache.put(again)

    assert cache.get("folder-1", 2) == again


def test_invalidate_removes_the_listings_of_the_given_folders(cache: ValkeyListingCache) -> None:
    for folder_id in ("folder-1", "folder-2", "folder-3"):
        cache.put(a_listing(folder_id, 1, "doc-1"))

    cache.invalidate({"folder-1", "folder-3"})

    assert cache.get("folder-1", 1) is None
    assert cache.get("folder-2", 1) is not None
    assert cache.get("folder-3", 1) is None


def test_ids_with_pattern_characters_are_plain_keys(
    cache: ValkeyListingCache, client: valkey.Valkey, key_prefix: str
) -> None:
    odd = ["a*", "a?", "[a]", "a#1", "a b", "x.y:z", "a"]
    for folder_id in odd:
        cache.put(a_listing(folder_id, 1, "doc-1"))

    cache.invalidate({"a*", "a b", "[a]"})

    still_cached = {folder_id for folder_id in odd if cache.get(folder_id, 1) is not None}
    assert still_cached == {"a?", "a#1", "x.y:z", "a"}
    assert client.exists(f"{key_prefix}listing:x.y:z") == 1


def test_invalidate_leaves_other_keys_of_the_same_id_under_the_prefix(
    cache: ValkeyListingCache, client: valkey.Valkey, key_prefix: str
) -> None:
    others = [f"{key_prefix}same-id", f"{key_prefix}document:same-id", f"{key_prefix}results:same-id"]
    for key in others:
        client.set(key, b"kept")
    cache.put(a_listing("same-id", 1, "doc-1"))

    cache.invalidate({"same-id"})

    assert cache.get("same-id", 1) is None
    assert [client.get(key) for key in others] == [b"kept"] * len(others)


def test_a_cached_listing_expires_after_the_ttl(
    cache: ValkeyListingCache, client: valkey.Valkey, key_prefix: str
) -> None:
    cache.put(a_listing("folder-1", 1, "doc-1"))

    ttl = cast(int, client.ttl(f"{key_prefix}listing:folder-1"))
    assert TTL_SECONDS // 2 < ttl <= TTL_SECONDS  # seconds: a TTL set in milliseconds would be near 0


def test_an_unreadable_entry_is_a_miss(
    cache: ValkeyListingCache, client: valkey.Valkey, key_prefix: str
) -> None:
    client.hset(f"{key_prefix}listing:folder-1", mapping={"version": "3", "body": b"[99]"})

    assert cache.get("folder-1", 3) is None


def test_a_listing_of_another_folder_under_the_key_is_a_miss(
    cache: ValkeyListingCache, client: valkey.Valkey, key_prefix: str
) -> None:
    cache.put(a_listing("folder-2", 3, "doc-1"))
    client.copy(f"{key_prefix}listing:folder-2", f"{key_prefix}listing:folder-1")

    assert cache.get("folder-1", 3) is None


def test_a_guard_of_another_client_is_refused(client: valkey.Valkey, key_prefix: str) -> None:
    with closing(connect(NOTHING_LISTENS)) as other, pytest.raises(ValueError, match="guard"):
        ValkeyListingCache(client, key_prefix, TTL_SECONDS, guard=CacheGuard(other))


def test_a_listing_loaded_while_the_database_was_replaced_is_not_stored(
    client: valkey.Valkey, key_prefix: str
) -> None:
    """The rows came from the old database; its successor was seen on a connection before the store, so
    the store would have put them under the new database's key."""
    database = ["db-old"]
    cache = ValkeyListingCache(client, key_prefix, TTL_SECONDS, database=lambda: database[0])

    def load_across_a_replacement() -> FolderListing:
        database[0] = "db-new"
        return a_listing("folder-1", 3, "doc-of-the-old-database")

    loaded = cache.get_or_load("folder-1", 3, load_across_a_replacement)

    assert loaded is not None
    assert loaded.version == 3
    assert cache.get("folder-1", 3) is None
    database[0] = "db-old"
    assert cache.get("folder-1", 3) is None


def test_a_listing_loaded_on_the_same_database_is_stored(client: valkey.Valkey, key_prefix: str) -> None:
    cache = ValkeyListingCache(client, key_prefix, TTL_SECONDS, database=lambda: "db-1")
    listing = a_listing("folder-1", 3, "doc-1")
    cache.get_or_load("folder-1", 3, lambda: listing)
    assert cache.get("folder-1", 3) == listing


def test_a_listing_too_large_to_store_at_once_is_not_stored_and_says_so(
    cache: ValkeyListingCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = a_listing("folder-1", 3, *(f"doc-{index}" for index in range(50)))
    monkeypatch.setattr(listing_cache, "MAX_ENTRY_BYTES", len(encode_listing(listing)) - 1)
    with capture_logs() as logs:
        cache.put(listing)

    assert cache.get("folder-1", 3) is None
    (line,) = [entry for entry in logs if entry["event"] == "listing_not_cached_too_large"]
    assert (line["folder_id"], line["documents"]) == ("folder-1", 50)
    monkeypatch.setattr(listing_cache, "MAX_ENTRY_BYTES", len(encode_listing(listing)))
    cache.put(listing)
    assert cache.get("folder-1", 3) == listing
