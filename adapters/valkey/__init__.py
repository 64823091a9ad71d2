"""Valkey adapter: the folder listings' cache, which degrades to misses when Valkey is unavailable."""
