"""Throwaway resources on the real services: a database, a RabbitMQ vhost, a Valkey key prefix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

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


def forget_earlier_runs(database_url: str, prefix: str) -> int:
    """Deletes the inbox rows of the runs before this one (their message ids do not start with
    ``prefix``); how many. Each run adds about 120,000, and the harness's polls count a run's rows by a
    pattern no index serves: left there, they made each later run's polls read more, on CPU the fleet
    shares. A deployment's ``inbox prune`` keeps the table to its retention the same way."""
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as connection:
        return connection.execute("DELETE FROM inbox WHERE message_id NOT LIKE %s", (f"{prefix}-%",)).rowcount


def settle_database(database_url: str) -> None:
    """Vacuums and analyzes every table, then checkpoints, so that no phase pays for the one before.

    A deployment's autovacuum clears the dead rows of the outbox's marks and the batches' updates as
    it goes; a Postgres run with autovacuum off (as on the machine of docs/performance.md) would
    otherwise carry each phase's dead rows, and its 100,000-message memory top-up, into every later
    phase and run. The checkpoint keeps a timed one, due at any moment, out of the next phase's CPU."""
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
        with suppress(psycopg.errors.InsufficientPrivilege):  # a role without pg_checkpoint: not forced
            connection.execute("CHECKPOINT")
