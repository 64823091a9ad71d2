"""How the fleet's Application is put together from its settings."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.valkey.near_listings import NearListingCache
from workers.bootstrap import Application
from workers.settings import Settings

pytestmark = pytest.mark.integration


def test_a_process_keeping_no_listing_in_memory_still_has_the_near_cache_that_remembers_large_folders(
    database_url: str, key_prefix: str
) -> None:
    """Without it, each page of a folder too heavy to list whole would load the whole folder again."""
    settings = dataclasses.replace(
        Settings.from_env(), database_url=database_url, cache_prefix=key_prefix, listing_memory_documents=0
    )
    app = Application.from_settings(settings, threads=2)
    try:
        cache = getattr(app.listing_cache, "_inner", app.listing_cache)  # counted, when metrics are on
        assert isinstance(cache, NearListingCache)
    finally:
        app.close()
