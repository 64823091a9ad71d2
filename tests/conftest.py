"""Fixtures on the real services: a migrated throwaway database, a key prefix, a RabbitMQ vhost; and the
Hypothesis settings every property test starts from."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from tests.support.services import (
    default_settings,
    migrated_database,
    throwaway_key_prefix,
    throwaway_vhost,
)

# No deadline: on a loaded two-core CI machine an example over 200 ms is a slow machine, not a defect.
hypothesis_settings.register_profile("docfleet", deadline=None)
hypothesis_settings.load_profile("docfleet")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database of this run's own, migrated to head by the migrations (the only way it is built)."""
    with migrated_database() as url:
        yield url


@pytest.fixture
def fresh_database_url() -> Iterator[str]:
    """An empty database of this test's own, migrated: its outbox holds only what the test puts there."""
    with migrated_database() as url:
        yield url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    """A pooled engine on the run's database for the module's tests: 8 connections, 16 with overflow."""
    from adapters.postgres.engine import create_engine

    engine = create_engine(database_url, pool_size=8)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def valkey_url() -> str:
    return default_settings().valkey_url


@pytest.fixture
def key_prefix(valkey_url: str) -> Iterator[str]:
    with throwaway_key_prefix(valkey_url) as prefix:
        yield prefix


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    with throwaway_vhost(default_settings().amqp_url) as url:
        yield url


@pytest.fixture
def new_id() -> IdMaker:
    return IdMaker()


class IdMaker:
    """Unique ids per test, so tests sharing the run's database never see each other's rows."""

    def __call__(self, kind: str) -> str:
        return f"{kind}-{uuid.uuid4().hex[:10]}"
