"""Throwaway resources on the real services: a database, a RabbitMQ vhost, a Valkey key prefix."""

from __future__ import annotations

import dataclasses
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import valkey
from sqlalchemy.engine import make_url

from adapters.postgres.migrations import upgrade_to_head
from workers.settings import Settings


def unique_name() -> str:
    return f"docfleet_bench_{uuid.uuid4().hex[:12]}"


@contextmanager
def throwaway_settings(base: Settings) -> Iterator[Settings]:
    """``base`` pointed at a new migrated database, a new vhost and a new key prefix; all removed after."""
    with (
        _database(base.database_url) as database_url,
        _vhost(base.amqp_url) as amqp_url,
        _key_prefix(base.valkey_url) as prefix,
    ):
        upgrade_to_head(database_url)
        yield dataclasses.replace(base, database_url=database_url, amqp_url=amqp_url, cache_prefix=prefix)


@contextmanager
def _database(base_url: str) -> Iterator[str]:
    url = make_url(base_url)
    name = unique_name()
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _key_prefix(valkey_url: str) -> Iterator[str]:
    prefix = f"{unique_name()}:"
    try:
        yield prefix
    finally:
        client = valkey.Valkey.from_url(valkey_url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()  # type: ignore[no-untyped-call]


@contextmanager
def _vhost(amqp_url: str) -> Iterator[str]:
    vhost = unique_name()
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{amqp_url.rsplit('/', 1)[0]}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)
