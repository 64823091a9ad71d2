"""Throwaway resources on the real services: a database, a RabbitMQ vhost, a Valkey key prefix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from adapters.postgres.engine import libpq_conninfo
from tests.support import services
from workers.settings import Settings

BENCH_PREFIX = "docfleet_bench"


@contextmanager
def throwaway_settings(base: Settings) -> Iterator[Settings]:
    """``base`` pointed at a new migrated database, vhost and key prefix named for the benchmark."""
    with services.throwaway_settings(base, BENCH_PREFIX) as settings:
        yield settings


def discard_unpublished_events(database_url: str) -> int:
    """Deletes the outbox rows no relay published; how many. The in-process and listing phases run
    without a relay: left there, their events would be the next run's relay's backlog, published while
    that run's throughput is measured."""
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as connection:
        return connection.execute("DELETE FROM outbox WHERE published_at IS NULL").rowcount
