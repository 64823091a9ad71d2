"""Loaded into the worker (``docfleet worker tests.faults.hooks.listing_race``) to force the cache
repopulation race: while the trigger ``pause-listing-fill`` exists, a list_folder reader that loaded a
listing from Postgres announces it (``filling.<pid>``: folder and version) and waits before it fills the
cache. Every invalidation of a folder's listing is announced too (``invalidated.<pid>``), so the harness
knows when a writer's commit has gone all the way through (``invalidated.<pid>``: folder and the id of
the message whose commit it follows)."""

from __future__ import annotations

from dramatiq.middleware import CurrentMessage

from adapters.valkey.listing_cache import ValkeyListingCache
from domain.listing import FolderListing
from tests.faults.hooks.files import announce, hold_while, triggered
from tests.faults.hooks.names import FILLING, INVALIDATED, PAUSE_LISTING_FILL

_fill = ValkeyListingCache.put
_invalidate = ValkeyListingCache.invalidate


def _paused_fill(cache: ValkeyListingCache, listing: FolderListing) -> None:
    if triggered(PAUSE_LISTING_FILL):
        announce(FILLING, f"{listing.folder_id} {listing.version}")
        hold_while(PAUSE_LISTING_FILL)
    _fill(cache, listing)


def _announced_invalidate(cache: ValkeyListingCache, folder_ids: set[str]) -> None:
    _invalidate(cache, folder_ids)
    message = CurrentMessage.get_current_message()
    for folder_id in folder_ids:
        announce(INVALIDATED, f"{folder_id} {message.message_id if message else '-'}")


ValkeyListingCache.put = _paused_fill  # type: ignore[method-assign,assignment]
ValkeyListingCache.invalidate = _announced_invalidate  # type: ignore[method-assign,assignment]
