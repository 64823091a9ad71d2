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

import threading
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
        self._asked = threading.local()  # each thread's last (folder, version, database) asked for
        self._entries = VersionedEntries(guard_for(client, guard), ttl_seconds)

    def get(self, folder_id: str, version: int) -> FolderListing | None:
        database = self._current_database()
        self._asked.last = (folder_id, version, database)
        body = self._entries.body_of_version(self._key(folder_id, database), version)
        if body is None:
            return None
        try:
            listing = decode_listing(body)
        except UnreadableEntry as error:
            structlog.get_logger(__name__).debug("cached_listing_unreadable", error=str(error))
            return None
        return listing if (listing.folder_id, listing.version) == (folder_id, version) else None

    def put(self, listing: FolderListing) -> None:
        """Stores under the database this thread's ``get`` of the same version asked of, and not at all
        if another database was seen since: a listing read after that miss may be the database replaced,
        and would otherwise go under its successor's key."""
        database = self._current_database()
        asked = getattr(self._asked, "last", None)
        if asked is not None and asked[:2] == (listing.folder_id, listing.version) and asked[2] != database:
            return
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
        self._entries.store(self._key(listing.folder_id, database), listing.version, body)

    def invalidate(self, folder_ids: set[str]) -> None:
        try:
            database = self._current_database()
            keys = [self._key(folder_id, database) for folder_id in folder_ids]
        except Exception as error:  # the database not named yet, nor nameable now: whatever failed
            # An entry is served for its version alone, so one left in place is never read again; its
            # TTL removes it. A commit's aftermath must not fail on the way to a housekeeping delete.
            structlog.get_logger(__name__).warning("listing_invalidation_skipped", error=repr(error))
            return
        self._entries.remove(keys)

    def _current_database(self) -> str | None:
        return None if self._database is None else self._database()

    def _key(self, folder_id: str, database: str | None) -> str:
        return self._prefix + folder_id if database is None else f"{self._prefix}{database}:{folder_id}"
