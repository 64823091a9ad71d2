"""Both caches on one client and one guard, so that they degrade, and recover, together."""

from __future__ import annotations

from dataclasses import dataclass

import valkey

from adapters.valkey.client import DEFAULT_MAX_CONNECTIONS, DEFAULT_SOCKET_TIMEOUT, connect
from adapters.valkey.document_cache import ValkeyDocumentCache
from adapters.valkey.guard import CacheGuard
from adapters.valkey.listing_cache import ValkeyListingCache


@dataclass(frozen=True)
class ValkeyCaches:
    listings: ValkeyListingCache
    documents: ValkeyDocumentCache
    guard: CacheGuard

    def close(self) -> None:
        self.guard.client.close()  # type: ignore[no-untyped-call]


def open_caches(
    url: str,
    prefix: str,
    ttl_seconds: int,
    *,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> ValkeyCaches:
    """Connects lazily: nothing reaches Valkey until a cache is first used."""
    client: valkey.Valkey = connect(url, socket_timeout=socket_timeout, max_connections=max_connections)
    guard = CacheGuard(client)
    return ValkeyCaches(
        listings=ValkeyListingCache(client, prefix, ttl_seconds, guard=guard),
        documents=ValkeyDocumentCache(client, prefix, ttl_seconds, guard=guard),
        guard=guard,
    )
