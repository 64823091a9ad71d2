"""The Valkey keys the fleet writes, as a test that looks into Valkey must name them."""

from __future__ import annotations

from workers.settings import Settings


def listing_key(settings: Settings, folder_id: str) -> str:
    """The key of a folder's cached listing: under the prefix, it names the database it came from."""
    from adapters.postgres.engine import single_use_engine
    from adapters.postgres.identity import database_identity

    with single_use_engine(settings.database_url) as engine:
        return f"{settings.cache_prefix}listing:{database_identity(engine)}:{folder_id}"
