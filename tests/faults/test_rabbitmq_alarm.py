"""A resource alarm on a node of the test's own: RabbitMQ blocks publishing connections until it clears.

The relay's batch published meanwhile waits on its connection: given up and sent again on a new one,
each attempt's copies would all be routed once the alarm clears. Its stop still ends the wait."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.rabbitmq.publisher import EventPublisher, PublishError, PublishStopped
from adapters.rabbitmq.queue_publisher import OutgoingMessage, QueuePublisher, QueueSpec
from adapters.rabbitmq.subscription import EventSubscription
from tests.faults.rabbit_node import PrivateNode, private_rabbitmq
from tests.integration.test_rabbitmq_publisher import record

pytestmark = [pytest.mark.faults, pytest.mark.integration]

CONFIRM_TIMEOUT_S = 1.0
ALARM_S = 4 * CONFIRM_TIMEOUT_S


@pytest.fixture(scope="module")
def node() -> Iterator[PrivateNode]:
    with private_rabbitmq() as node:
        yield node


def test_a_batch_published_during_a_resource_alarm_waits_for_it_and_is_routed_once(node: PrivateNode) -> None:
    batch = [record("document.shared.viewer", n=n) for n in range(3)]
    with EventSubscription(node.amqp_url, ["document.shared.*"]) as tap:
        with _publisher(node, threading.Event()) as publisher, _alarm(node, clear_after=ALARM_S):
            started = time.monotonic()
            refused = publisher.publish(batch)
            waited = time.monotonic() - started
        received = tap.collect(5.0, count=len(batch) + 1)  # and no more copies

    assert refused == set()
    assert waited >= ALARM_S - 0.5, "the confirms came while RabbitMQ blocked the connection"
    assert sorted(str(event.message_id) for event in received) == sorted(r.event_id for r in batch)


def test_a_stop_ends_the_wait_for_an_alarm_within_the_confirm_timeout_and_closes_at_once(
    node: PrivateNode,
) -> None:
    stop = threading.Event()
    with _alarm(node, clear_after=ALARM_S + 2.0):
        publisher = _publisher(node, stop)
        threading.Timer(CONFIRM_TIMEOUT_S / 2, stop.set).start()
        started = time.monotonic()
        with pytest.raises(PublishStopped, match="stopped while waiting out a resource alarm"):
            publisher.publish([record("document.shared.viewer")])
        gave_up_after = time.monotonic() - started
        waits = _recorded_waits(publisher)
        publisher.close()  # RabbitMQ reads nothing from a blocked connection: no closing handshake
        closed_after = time.monotonic() - started
        assert publisher._connection.is_closed, "its socket closed now, not whenever it is collected"
        assert waits == [("closing the connection", 0.0)], "no wait for an answer that cannot come"

    # The alarm clears at ALARM_S + 2 s: a publisher that waited it out, or a close that waited for
    # RabbitMQ's answer, would take that long. The margins are the mechanism's, not a speed target.
    assert gave_up_after < ALARM_S / 2, "the stop ended the wait within about the confirm timeout"
    assert closed_after < ALARM_S, "closing did not wait for the alarm to clear"


def test_a_producer_blocked_by_an_alarm_is_told_so_not_that_rabbitmq_did_not_answer(
    node: PrivateNode,
) -> None:
    """Producers do not wait out an alarm (docs/reliability.md); what they say must name it."""
    message = OutgoingMessage("alarmed", str(uuid.uuid4()), b"{}")
    publisher = QueuePublisher(node.amqp_url, declare=[QueueSpec("alarmed")], timeout=CONFIRM_TIMEOUT_S)
    try:
        with _alarm(node, clear_after=ALARM_S), pytest.raises(PublishError) as failed:
            publisher.publish([message])
    finally:
        publisher.close()

    assert "RabbitMQ blocked the connection (a resource alarm" in str(failed.value)


def _recorded_waits(publisher: EventPublisher) -> list[tuple[str, float | None]]:
    """From now on, what the publisher runs its I/O loop for, and how long it would wait."""
    waits: list[tuple[str, float | None]] = []
    run_until = publisher._run_until

    def recorded(done: Any, what: str, timeout: float | None = None, **options: Any) -> None:
        waits.append((what, timeout))
        run_until(done, what, timeout, **options)

    publisher._run_until = recorded  # type: ignore[method-assign]
    return waits


def _publisher(node: PrivateNode, stop: threading.Event) -> EventPublisher:
    name = f"alarm-{uuid.uuid4().hex[:6]}"
    return EventPublisher(node.amqp_url, timeout=CONFIRM_TIMEOUT_S, name=name, wait_out_alarms=stop)


@contextmanager
def _alarm(node: PrivateNode, *, clear_after: float) -> Iterator[None]:
    """A disk alarm (a free-space limit above any disk), cleared ``clear_after`` seconds after it went off;
    leaving waits for that."""
    node.ctl("set_disk_free_limit", "100000GB")
    clearing = threading.Timer(clear_after, node.ctl, args=("set_disk_free_limit", "1MB"))
    clearing.start()
    try:
        yield
    finally:
        clearing.join()
