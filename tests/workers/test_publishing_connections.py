"""On a real RabbitMQ: a worker thread's publishing connection, dropped by RabbitMQ while it idled, is
made anew before the next retry is published, with no error line; so is one closed at shutdown."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pika
import pytest
from dramatiq.results.backends.stub import StubBackend

from tests.cli.support import ready_count
from tests.support.services import default_settings, throwaway_vhost
from workers.broker import build_broker
from workers.consumer import ScreeningRabbitmqBroker
from workers.logging import configure_logging
from workers.publishing_connections import heartbeat_of
from workers.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("restore_logging")]

QUEUE = "documents"
HEARTBEAT_S = 1  # RabbitMQ drops a connection that misses two


@pytest.fixture
def vhost_url() -> Iterator[str]:
    with throwaway_vhost(default_settings().amqp_url) as url:
        yield url


def _message() -> dramatiq.Message[Any]:
    return dramatiq.Message(queue_name=QUEUE, actor_name="add_member", args=(), kwargs={}, options={})


def _broker_with_short_heartbeats(vhost_url: str) -> ScreeningRabbitmqBroker:
    """The workers' broker on the test's vhost, logging as a worker does, with 1 s heartbeats."""
    configure_logging("INFO", json_lines=True)
    url = f"{vhost_url}{'&' if '?' in vhost_url else '?'}heartbeat={HEARTBEAT_S}"
    broker = build_broker(
        dataclasses.replace(Settings.from_env(), amqp_url=url), results_backend=StubBackend()
    )
    assert isinstance(broker, ScreeningRabbitmqBroker)
    return broker


def _error_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("level") in ("error", "critical")]


def test_a_connection_dropped_while_idle_is_replaced_without_an_error_line(
    vhost_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = _broker_with_short_heartbeats(vhost_url)
    try:
        broker.enqueue(_message())
        time.sleep(4 * HEARTBEAT_S)  # no heartbeat answered meanwhile: RabbitMQ drops the connection
        broker.enqueue(_message())
    finally:
        broker.close()

    assert _error_lines(capsys) == []
    assert ready_count(vhost_url, QUEUE) == 2


def test_connections_dropped_while_idle_are_closed_at_shutdown_without_an_error_line(
    vhost_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = _broker_with_short_heartbeats(vhost_url)
    broker.enqueue(_message())
    time.sleep(4 * HEARTBEAT_S)
    broker.close()

    assert _error_lines(capsys) == []


def test_a_connection_opened_to_declare_queues_is_replaced_too_once_it_idled(
    vhost_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a delay queue's consumer thread: its connection opened as it started, its first publish (a
    retry moved back) long after."""
    broker = _broker_with_short_heartbeats(vhost_url)
    try:
        broker.declare_queue(QUEUE, ensure=True)
        time.sleep(4 * HEARTBEAT_S)
        broker.enqueue(_message())
    finally:
        broker.close()

    assert _error_lines(capsys) == []
    assert ready_count(vhost_url, QUEUE) == 1


def test_the_idle_limit_is_the_shortest_heartbeat_of_every_host() -> None:
    hosts = [pika.URLParameters(f"amqp://h{n}/%2F?heartbeat={beat}") for n, beat in enumerate((30, 0, 12))]
    assert heartbeat_of(hosts) == 12
    assert heartbeat_of(pika.URLParameters("amqp://h/%2F?heartbeat=0")) == 0
