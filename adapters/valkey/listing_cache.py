"""Folder listings cached under ``{prefix}listing:{database}:{folder_id}``, served only for the folder's
version.

The version comes from Postgres: committing a change to a folder's documents or their policies raises
``folders.listing_version``. A reader that loaded version N before a writer committed N+1 and
invalidated may still cache N afterwards; that entry is harmless, as ``get`` asks for N+1, and it can
never replace an N+1 entry, as ``put`` refuses to store over a newer version.

Versions count from 0 in every database, so the key names the database too (``adapters.postgres.
identity``): a folder of the same id at the same version in another database sharing the Valkey and
the prefix must not be served in its place.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
import valkey

from adapters.valkey.codec import UnreadableEntry, decode_listing, encode_listing
from adapters.valkey.entries import VersionedEntries
from adapters.valkey.guard import CacheGuard, guard_for
from domain.listing import FolderListing
from domain.ports import ListingCache

# A listing encoded larger (about 30,000 ordinary documents) is not stored: its store and each read of
# it outlast the cache's 0.25 s timeout on a busy machine, which takes a working Valkey for an outage and
# skips the cache for every folder meanwhile; and each page read from it would fetch and decode it whole.
# Such a folder's pages are read from Postgres.
MAX_ENTRY_BYTES = 16 * 1024 * 1024


class ValkeyListingCache(ListingCache):
    def __init__(
        self,
        client: valkey.Valkey,
        prefix: str,
        ttl_seconds: int,
        *,
        guard: CacheGuard | None = None,
        database: Callable[[], str] | None = None,
    ) -> None:
        """Pass the same ``guard`` to every cache on ``client`` so that they degrade together.
        ``database`` names the database the listings come from, asked at each use (it must answer from
        memory: ``adapters.postgres.identity.WatchedIdentity``); without it the keys name none (for a
        Valkey that serves one database alone)."""
        self._prefix = f"{prefix}listing:"
        self._database = database
        self._entries = VersionedEntries(guard_for(client, guard), ttl_seconds)

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        body = self._entries.body_of_version(self._key(folder_id), version)
        if body is None:
            return None
        try:
            listing = decode_listing(body)
        except UnreadableEntry as error:
            structlog.get_logger(__name__).debug("cached_listing_unreadable", error=str(error))
            return None
        return listing if (listing.folder_id, listing.version) == (folder_id, version) else None

    def put(self, listing: FolderListing) -> None:
        body = encode_listing(listing)
        if len(body) > MAX_ENTRY_BYTES:
            structlog.get_logger(__name__).info(
                "listing_not_cached_too_large",
                folder_id=listing.folder_id,
                documents=len(listing.entries),
                size=len(body),
                limit=MAX_ENTRY_BYTES,
            )
            return
        self._entries.store(self._key(listing.folder_id), listing.version, body)

    def get_or_load(self, folder_id: str, version: int, load: Callable[[], FolderListing]) -> FolderListing:
        """As the port's, but a listing loaded while the database was replaced (its identity read on a
        new connection meanwhile) is not stored: it may be the old database's, under the new one's key."""
        listing = self.get(folder_id, version)
        if listing is None:
            database = self._database() if self._database is not None else None
            listing = load()
            if self._database is None or self._database() == database:
                self.put(listing)
        return listing

    def invalidate(self, folder_ids: set[str]) -> None:
        try:
            keys = [self._key(folder_id) for folder_id in folder_ids]
        except Exception as error:  # the database not named yet, nor nameable now: whatever failed
            # An entry is served for its version alone, so one left in place is never read again; its
            # TTL removes it. A commit's aftermath must not fail on the way to a housekeeping delete.
            structlog.get_logger(__name__).warning("listing_invalidation_skipped", error=repr(error))
            return
        self._entries.remove(keys)

    def _key(self, folder_id: str) -> str:
        if self._database is None:
            return self._prefix + folder_id
        return f"{self._prefix}{self._database()}:{folder_id}"
