"""Throwaway resources on the real services, named uniquely per run and removed afterwards."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
import valkey
from sqlalchemy.engine import make_url

from workers.settings import Settings


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


TEST_PREFIX = "docfleet_test"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def throwaway_database(base_url: str, prefix: str = TEST_PREFIX, options: str = "") -> Iterator[str]:
    """Creates an empty database beside the one ``base_url`` names, with ``CREATE DATABASE``'s
    ``options`` if any; yields its SQLAlchemy URL."""
    url = make_url(base_url)
    name = unique_name(prefix)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" {options}')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_key_prefix(valkey_url: str, prefix: str = TEST_PREFIX) -> Iterator[str]:
    key_prefix = f"{unique_name(prefix)}:"
    try:
        yield key_prefix
    finally:
        client = valkey.Valkey.from_url(valkey_url)
        keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
        for start in range(0, len(keys), 1000):  # bounded commands, however many keys a run wrote
            client.delete(*keys[start : start + 1000])
        client.close()  # type: ignore[no-untyped-call]


@contextmanager
def throwaway_vhost(amqp_url: str, prefix: str = TEST_PREFIX) -> Iterator[str]:
    """A RabbitMQ virtual host of its own, so queue and exchange names stay those of the contract."""
    vhost = unique_name(prefix)
    rabbitmqctl("add_vhost", vhost)
    try:
        grant_vhost(amqp_url, vhost)
        yield f"{amqp_url.rsplit('/', 1)[0]}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


@contextmanager
def user_permitted(
    vhost_url: str, configure: str, write: str, read: str, prefix: str = "user"
) -> Iterator[str]:
    """``vhost_url`` as a throwaway user with these RabbitMQ permission patterns on its vhost alone."""
    user, password, parts = unique_name(prefix), "secret", urlsplit(vhost_url)
    rabbitmqctl("add_user", user, password)
    try:
        rabbitmqctl("set_permissions", "-p", parts.path.lstrip("/"), user, configure, write, read)
        yield urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port or 5672}"))
    finally:
        rabbitmqctl("delete_user", user)


def grant_vhost(amqp_url: str, vhost: str) -> None:
    """Every permission on ``vhost`` to the user ``amqp_url`` connects as."""
    user = urlsplit(amqp_url).username or "guest"
    rabbitmqctl("set_permissions", "-p", vhost, unquote(user), ".*", ".*", ".*")


def rabbitmqctl(*args: str, check: bool = True) -> str:
    """Runs ``rabbitmqctl -q ARGS`` where the RabbitMQ of the tests runs; its output."""
    done = subprocess.run(
        [*rabbitmqctl_command(), "-q", *args], check=check, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def rabbitmqctl_command() -> list[str]:
    """This machine's ``rabbitmqctl``; without one, that of the container ``scripts/ensure-services``
    starts when RabbitMQ is not installed here (docker-compose.local.yml)."""
    if shutil.which("rabbitmqctl"):
        return ["rabbitmqctl"]
    compose = ["docker", "compose", "-p", "docfleet-local"]
    compose += ["-f", str(ROOT / "docker-compose.yml"), "-f", str(ROOT / "docker-compose.local.yml")]
    return [*compose, "exec", "-T", "rabbitmq", "rabbitmqctl"]


def default_settings() -> Settings:
    return Settings.from_env()


@contextmanager
def migrated_database(prefix: str = TEST_PREFIX, options: str = "") -> Iterator[str]:
    """A new database beside the default one (``options`` as for ``throwaway_database``), migrated to
    head by the migrations; dropped after."""
    from adapters.postgres.migrations import upgrade_to_head

    with throwaway_database(default_settings().database_url, prefix, options) as url:
        upgrade_to_head(url)
        yield url


@contextmanager
def throwaway_settings(base: Settings, prefix: str = TEST_PREFIX) -> Iterator[Settings]:
    """``base`` pointed at a new migrated database, a new vhost and a new key prefix; all removed after."""
    from adapters.postgres.migrations import upgrade_to_head

    with (
        throwaway_database(base.database_url, prefix) as database_url,
        throwaway_vhost(base.amqp_url, prefix) as amqp_url,
        throwaway_key_prefix(base.valkey_url, prefix) as key_prefix,
    ):
        upgrade_to_head(database_url)
        yield dataclasses.replace(base, database_url=database_url, amqp_url=amqp_url, cache_prefix=key_prefix)
