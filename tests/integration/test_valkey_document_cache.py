from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from typing import cast

import pytest
import valkey

from adapters.valkey.client import connect
from adapters.valkey.document_cache import ValkeyDocumentCache
from adapters.valkey.guard import CacheGuard
from adapters.valkey.listing_cache import ValkeyListingCache
from tests.integration.test_valkey_support import NOTHING_LISTENS, TTL_SECONDS, a_document

pytestmark = pytest.mark.integration


@pytest.fixture
def client(valkey_url: str) -> Iterator[valkey.Valkey]:
    with closing(connect(valkey_url)) as client:
        yield client


@pytest.fixture
def cache(client: valkey.Valkey, key_prefix: str) -> ValkeyDocumentCache:
    return ValkeyDocumentCache(client, key_prefix, TTL_SECONDS)


def test_a_cached_document_comes_back_equal_with_real_datetimes(cache: ValkeyDocumentCache) -> None:
    document = a_document()
    cache.put(document)

    cached = cache.get("doc-1")

    assert cached == document
    assert cached is not None
    assert isinstance(cached.updated_at, datetime)
    assert cached.updated_at.tzinfo is UTC
    assert cached.tags == ("finance", "q3")


def test_a_document_never_cached_misses(cache: ValkeyDocumentCache) -> None:
    assert cache.get("doc-1") is None


def test_an_older_version_never_replaces_a_newer_one(cache: ValkeyDocumentCache) -> None:
    cache.put(a_document(version=2))

    cache.put(a_document(version=1))

    assert cache.get("doc-1") == a_document(version=2)


def test_a_newer_version_replaces_an_older_one(cache: ValkeyDocumentCache) -> None:
    cache.put(a_document(version=1))
    renamed = replace(a_document(version=2), name="Plan v2.md")

    cache.put(renamed)

    assert cache.get("doc-1") == renamed


def test_invalidate_removes_only_the_given_documents(cache: ValkeyDocumentCache) -> None:
    odd = ["doc-1", "doc*", "doc #2", "doc.3:x", "do?"]
    for doc_id in odd:
        cache.put(a_document(doc_id))

    cache.invalidate({"doc*", "doc #2", "doc-1"})

    assert {doc_id for doc_id in odd if cache.get(doc_id) is not None} == {"doc.3:x", "do?"}


def test_a_cached_document_expires_after_the_ttl(
    cache: ValkeyDocumentCache, client: valkey.Valkey, key_prefix: str
) -> None:
    cache.put(a_document())

    ttl = cast(int, client.ttl(f"{key_prefix}document:doc-1"))
    assert TTL_SECONDS // 2 < ttl <= TTL_SECONDS  # seconds: a TTL set in milliseconds would be near 0


def test_documents_and_listings_of_the_same_id_do_not_collide(client: valkey.Valkey, key_prefix: str) -> None:
    guard = CacheGuard(client)
    documents = ValkeyDocumentCache(client, key_prefix, TTL_SECONDS, guard=guard)
    listings = ValkeyListingCache(client, key_prefix, TTL_SECONDS, guard=guard)
    documents.put(a_document("same-id"))

    listings.invalidate({"same-id"})

    assert documents.get("same-id") == a_document("same-id")


def test_a_guard_of_another_client_is_refused(client: valkey.Valkey, key_prefix: str) -> None:
    with closing(connect(NOTHING_LISTENS)) as other, pytest.raises(ValueError, match="guard"):
        ValkeyDocumentCache(client, key_prefix, TTL_SECONDS, guard=CacheGuard(other))
