"""Throwaway resources on the real services: a database, a RabbitMQ vhost, a Valkey key prefix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import services
from workers.settings import Settings

BENCH_PREFIX = "docfleet_bench"


@contextmanager
def throwaway_settings(base: Settings) -> Iterator[Settings]:
    """``base`` pointed at a new migrated database, vhost and key prefix named for the benchmark."""
    with services.throwaway_settings(base, BENCH_PREFIX) as settings:
        yield settings
