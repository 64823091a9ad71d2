"""Every setting docfleet reads, from environment variables with localhost defaults: the one place."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


@dataclass(frozen=True)
class Settings:
    database_url: str
    valkey_url: str
    amqp_url: str
    cache_prefix: str
    cache_ttl_seconds: int
    result_ttl_ms: int
    log_level: str
    metrics_enabled: bool
    worker_metrics_port: int
    relay_metrics_port: int
    audit_metrics_port: int
    audit_queue: str
    group_commit_max_batch: int = 0
    listing_memory_documents: int = 20_000

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            database_url=env("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/docfleet"),
            valkey_url=env("VALKEY_URL", "redis://127.0.0.1:6379/0"),
            amqp_url=env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
            cache_prefix=env("CACHE_PREFIX", "docfleet:"),
            cache_ttl_seconds=_int("CACHE_TTL_SECONDS", 3600),
            result_ttl_ms=_int("RESULT_TTL_MS", 60_000),
            log_level=env("LOG_LEVEL", "INFO"),
            metrics_enabled=env("METRICS_ENABLED", "true").strip().lower() in ("1", "true", "yes", "on"),
            # A Procfile runner (honcho) hands each process a PORT of its own: with several worker fleets
            # on one host (`honcho start -c worker=3`) each then serves its metrics on a port of its own.
            worker_metrics_port=_int("WORKER_METRICS_PORT", _int("PORT", 9191)),
            relay_metrics_port=_int("RELAY_METRICS_PORT", 9192),
            audit_metrics_port=_int("AUDIT_METRICS_PORT", 9193),
            audit_queue=env("AUDIT_QUEUE", "docfleet.audit"),
            # Commands sharing one transaction at most; 0: as many as the worker has threads, 1: none.
            group_commit_max_batch=_int("GROUP_COMMIT_MAX_BATCH", 0),
            # Documents of decoded listings each worker process keeps in front of Valkey; 0: none.
            listing_memory_documents=_int("LISTING_MEMORY_DOCUMENTS", 20_000),
        )
