"""Fixtures of the worker tests: an Application over the in-memory fakes, and a fleet running it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from tests.support.rabbitmq import delete_contract_queues
from tests.unit.fakes import FOLDER, ORG, FakeDatabase, FakeListingCache
from tests.workers.support import Fleet, running_fleet
from workers.bootstrap import Application

ALICE, BOB, CAROL = "alice", "bob", "carol"


@pytest.fixture
def db() -> FakeDatabase:
    """Alice, Bob and Carol are members of ORG, which has the folder FOLDER."""
    return FakeDatabase().with_member(ALICE, BOB, CAROL, org=ORG).with_folder(FOLDER, org=ORG)


@pytest.fixture
def amqp_url(amqp_url: str) -> Iterator[str]:
    """The run's vhost, left as this test found it: the contract's queues, with what the test left in them
    (messages never acked, dead letters), are deleted after it and reach no later test."""
    yield amqp_url
    delete_contract_queues(amqp_url)


@pytest.fixture
def application(db: FakeDatabase) -> Application:
    return Application(new_uow=db.uow_factory(), listing_cache=FakeListingCache(), spent_by=db.spent_by)


@pytest.fixture
def fleet(application: Application) -> Iterator[Fleet]:
    with running_fleet(application) as fleet:
        yield fleet


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The root logger's handlers and level, and structlog's defaults, as they were before the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
