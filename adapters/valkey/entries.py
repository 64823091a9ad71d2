"""Versioned cache entries: a hash per key holding the entry's ``version`` and its encoded ``body``.

Keeping the version in a field of its own lets a reader reject an entry of the wrong version without
decoding it, and lets ``STORE_UNLESS_NEWER`` compare versions atomically on the server.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import cast

import valkey

from adapters.valkey.guard import CacheGuard

VERSION = "version"
BODY = "body"

# Stores the entry unless the cached one is newer, so a reader that loaded an entry before a writer's
# commit cannot overwrite the entry a later reader cached after it. An equal version is rewritten, which
# refreshes the TTL. KEYS[1]: the key; ARGV: version, body, TTL in seconds. Returns 1 if stored.
STORE_UNLESS_NEWER = """
local cached = redis.call('HGET', KEYS[1], 'version')
if cached and tonumber(cached) > tonumber(ARGV[1]) then
    return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'body', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class VersionedEntries:
    def __init__(self, guard: CacheGuard, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"a cache TTL must be positive, got {ttl_seconds}")
        self._guard = guard
        self._ttl_seconds = ttl_seconds
        self._store = guard.client.register_script(STORE_UNLESS_NEWER)

    def body_of_version(self, key: str, version: int) -> bytes | None:
        """The body cached under ``key`` if its version is exactly ``version``."""
        cached = self._guard.run(lambda client: _fields(client, key, VERSION, BODY), fallback=None)
        if cached is None or cached[0] != str(version).encode():
            return None
        return cached[1]

    def store(self, key: str, version: int, body: bytes) -> bool:
        """Whether the entry is now cached: False if a newer one is, or if Valkey is unavailable."""
        args = (version, body, self._ttl_seconds)
        return self._guard.run(lambda _: self._store(keys=[key], args=args) == 1, fallback=False)

    def remove(self, keys: Collection[str]) -> None:
        self._guard.unlink(keys)


def _fields(client: valkey.Valkey, key: str, *names: str) -> list[bytes | None]:
    return cast(list[bytes | None], client.hmget(key, list(names)))
