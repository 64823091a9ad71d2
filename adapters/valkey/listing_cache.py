"""Folder listings cached under ``{prefix}listing:{folder_id}``, served only for the folder's version.

The version comes from Postgres: committing a change to a folder's documents or their policies raises
``folders.listing_version``. A reader that loaded version N before a writer committed N+1 and
invalidated may still cache N afterwards; that entry is harmless, as ``get`` asks for N+1, and it can
never replace an N+1 entry, as ``put`` refuses to store over a newer version.
"""

from __future__ import annotations

import structlog
import valkey

from adapters.valkey.codec import UnreadableEntry, decode_listing, encode_listing
from adapters.valkey.entries import VersionedEntries
from adapters.valkey.guard import CacheGuard, guard_for
from domain.listing import FolderListing
from domain.ports import ListingCache


class ValkeyListingCache(ListingCache):
    def __init__(
        self,
        client: valkey.Valkey,
        prefix: str,
        ttl_seconds: int,
        *,
        guard: CacheGuard | None = None,
    ) -> None:
        """Pass the same ``guard`` to every cache on ``client`` so that they degrade together."""
        self._prefix = f"{prefix}listing:"
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
        self._entries.store(self._key(listing.folder_id), listing.version, encode_listing(listing))

    def invalidate(self, folder_ids: set[str]) -> None:
        self._entries.remove([self._key(folder_id) for folder_id in folder_ids])

    def _key(self, folder_id: str) -> str:
        return self._prefix + folder_id
