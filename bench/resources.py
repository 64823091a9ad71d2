"""Throwaway resources on the real services: a database, a RabbitMQ vhost, a Valkey key prefix."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.postgres.migrations import upgrade_to_head
from tests.support.services import throwaway_database, throwaway_key_prefix, throwaway_vhost
from workers.settings import Settings

BENCH_PREFIX = "docfleet_bench"


@contextmanager
def throwaway_settings(base: Settings) -> Iterator[Settings]:
    """``base`` pointed at a new migrated database, a new vhost and a new key prefix; all removed after."""
    with (
        throwaway_database(base.database_url, BENCH_PREFIX) as database_url,
        throwaway_vhost(base.amqp_url, BENCH_PREFIX) as amqp_url,
        throwaway_key_prefix(base.valkey_url, BENCH_PREFIX) as prefix,
    ):
        upgrade_to_head(database_url)
        yield dataclasses.replace(base, database_url=database_url, amqp_url=amqp_url, cache_prefix=prefix)
