"""Valkey adapter: the listing and document caches, which degrade to misses when Valkey is unavailable."""
