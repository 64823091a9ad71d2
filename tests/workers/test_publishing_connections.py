"""On a real RabbitMQ: a worker process's threads publish on one connection, taking turns; dropped by
RabbitMQ while it idled, it is made anew before the next retry is published, with no error line; so is
one closed at shutdown."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import dramatiq
import pika
import pytest
from dramatiq.errors import ConnectionClosed
from dramatiq.results.backends.stub import StubBackend

from tests.cli.support import ready_count
from tests.support.services import default_settings, throwaway_vhost
from workers.broker import build_broker
from workers.consumer import ScreeningRabbitmqBroker
from workers.logging import configure_logging
from workers.publishing_connections import blocked_timeout_of, heartbeat_of
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


def _broker_with_short_heartbeats(vhost_url: str, options: str = "") -> ScreeningRabbitmqBroker:
    """The workers' broker on the test's vhost, logging as a worker does, with 1 s heartbeats."""
    configure_logging("INFO", json_lines=True)
    url = f"{vhost_url}{'&' if '?' in vhost_url else '?'}heartbeat={HEARTBEAT_S}{options}"
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


def test_the_threads_of_a_process_publish_on_one_connection(vhost_url: str) -> None:
    """Dramatiq's own broker would open one per thread, each kept for the process's life."""
    broker = _broker_with_short_heartbeats(vhost_url)
    threads, each = 16, 5
    start = threading.Barrier(threads)

    def publish() -> None:
        start.wait()
        for _ in range(each):
            broker.enqueue(_message())

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda _: publish(), range(threads)))
        opened = len(broker.connections)
    finally:
        broker.close()

    assert opened == 1
    assert ready_count(vhost_url, QUEUE) == threads * each


@contextmanager
def _turn_held(broker: ScreeningRabbitmqBroker) -> Iterator[None]:
    """The publishing turn held by another thread, as by a publish an alarm blocks, for the block."""
    held, release = threading.Event(), threading.Event()

    def hold_the_turn() -> None:
        with broker._taking_turns("a publish blocked by an alarm"):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_turn)
    holder.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        holder.join(10)


def test_a_thread_waits_its_turn_no_longer_than_a_blocked_publish_would_be_tried(vhost_url: str) -> None:
    """Six tries of 0.2 s each: a publish that cannot have its turn by then fails as one whose tries
    are spent does, for ``RetriesOrDeadLetter`` to dead-letter its message rather than wait for good."""
    broker = _broker_with_short_heartbeats(vhost_url, "&blocked_connection_timeout=0.2")
    try:
        with _turn_held(broker), pytest.raises(ConnectionClosed):
            broker.enqueue(_message())
    finally:
        broker.close()

    assert ready_count(vhost_url, QUEUE) is None  # nothing published: the queue was not even declared


def test_the_patience_is_the_longest_blocked_timeout_and_none_without_one() -> None:
    hosts = [
        pika.URLParameters(f"amqp://h{n}/%2F?blocked_connection_timeout={t}") for n, t in enumerate((5, 20))
    ]
    assert blocked_timeout_of(hosts) == 20
    assert blocked_timeout_of(pika.URLParameters("amqp://h/%2F")) == 0


def test_a_queue_declared_already_costs_no_turn(vhost_url: str) -> None:
    """A consumer restarting declares its queues again: with the turn held by a publish an alarm blocks,
    it must not wait for it (nor fail for want of it), having nothing to send."""
    broker = _broker_with_short_heartbeats(vhost_url, "&blocked_connection_timeout=0.2")
    broker.declare_queue(QUEUE, ensure=True)
    try:
        with _turn_held(broker):
            broker.declare_queue(
                QUEUE, ensure=True
            )  # raised ConnectionClosed after 1.2 s when it took a turn
    finally:
        broker.close()


def test_declaring_a_queue_declared_already_does_not_hide_an_idle_connection(
    vhost_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = _broker_with_short_heartbeats(vhost_url)
    try:
        broker.enqueue(_message())
        time.sleep(4 * HEARTBEAT_S)  # RabbitMQ drops the idle connection
        broker.declare_queue(QUEUE, ensure=True)  # as a consumer restarting: no I/O, so not a use
        broker.enqueue(_message())
    finally:
        broker.close()

    assert _error_lines(capsys) == []
    assert ready_count(vhost_url, QUEUE) == 2
