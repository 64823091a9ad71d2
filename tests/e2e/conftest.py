"""The fleet for a test module: its own vhost and key prefix, the run's database; a client beside it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import pytest

from adapters.rabbitmq.subscription import EventSubscription
from tests.e2e.fleet import Client, running_fleet, wait_until_ready
from tests.support.services import default_settings, throwaway_database, throwaway_key_prefix, throwaway_vhost
from workers.settings import Settings


@pytest.fixture(scope="module")
def fleet_settings(database_url: str) -> Iterator[Settings]:
    base = default_settings()
    with throwaway_vhost(base.amqp_url) as amqp_url, throwaway_key_prefix(base.valkey_url) as prefix:
        yield dataclasses.replace(base, database_url=database_url, amqp_url=amqp_url, cache_prefix=prefix)


@pytest.fixture(scope="module")
def fleet_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fleet")


@pytest.fixture(scope="module")
def fleet(fleet_settings: Settings, fleet_log: Path) -> Iterator[None]:
    with running_fleet(fleet_settings, fleet_log) as process:
        wait_until_ready(process, fleet_settings.amqp_url, fleet_log / "fleet.log")
        yield


@pytest.fixture(scope="module")
def client_broker(fleet_settings: Settings) -> Iterator[tuple[dramatiq.Broker, dict[str, Any]]]:
    """A producer's broker on the fleet's vhost, with the same results backend as the workers."""
    from workers.actors import declare_on
    from workers.broker import build_broker

    broker = build_broker(fleet_settings)
    actors = declare_on(broker)
    try:
        yield broker, actors
    finally:
        broker.close()


@pytest.fixture
def client(
    fleet: None, fleet_settings: Settings, client_broker: tuple[dramatiq.Broker, dict[str, Any]]
) -> Iterator[Client]:
    """A client whose tap sees every event published from the start of the test on."""
    broker, actors = client_broker
    with EventSubscription(fleet_settings.amqp_url, ["#"], name="e2e-tap") as tap:
        yield Client(broker, actors, tap)


@pytest.fixture
def unmigrated() -> Iterator[Settings]:
    """A database that exists and is empty, as before ``docfleet migrate``; a vhost and key prefix."""
    base = default_settings()
    with (
        throwaway_database(base.database_url) as database_url,
        throwaway_vhost(base.amqp_url) as amqp_url,
        throwaway_key_prefix(base.valkey_url) as key_prefix,
    ):
        yield dataclasses.replace(base, database_url=database_url, amqp_url=amqp_url, cache_prefix=key_prefix)
