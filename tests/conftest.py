"""Fixtures on the real services: a migrated throwaway database, a key prefix, a RabbitMQ vhost; and the
Hypothesis settings every property test starts from."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, make_url

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


# A test holding two transactions in one thread can wait on itself, which Postgres cannot see as a
# deadlock: a lock wait this long fails the test instead of hanging it, its clean-up included.
TEST_LOCK_TIMEOUT = "-c lock_timeout=60s"


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    """A pooled engine on the run's database for the module's tests: 8 connections, 16 with overflow;
    a lock waited for over a minute fails the statement."""
    from adapters.postgres.engine import create_engine, session_options

    url = make_url(database_url)
    bounded = url.update_query_dict({"options": session_options(url, TEST_LOCK_TIMEOUT)})
    engine = create_engine(bounded.render_as_string(hide_password=False), pool_size=8)
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
