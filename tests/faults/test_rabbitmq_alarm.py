"""A resource alarm on a node of the test's own: RabbitMQ blocks publishing connections until it clears.

A batch published meanwhile must wait on its connection: given up and sent again on a new one, each
attempt's copies would all be routed once the alarm clears."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from adapters.rabbitmq.publisher import EventPublisher
from adapters.rabbitmq.subscription import EventSubscription
from tests.faults.rabbit_node import PrivateNode, private_rabbitmq
from tests.integration.test_rabbitmq_publisher import record

pytestmark = [pytest.mark.faults, pytest.mark.integration]

CONFIRM_TIMEOUT_S = 1.0
ALARM_S = 4 * CONFIRM_TIMEOUT_S


def test_a_batch_published_during_a_resource_alarm_waits_for_it_and_is_routed_once() -> None:
    batch = [record("document.shared.viewer", n=n) for n in range(3)]
    with private_rabbitmq() as node, EventSubscription(node.amqp_url, ["document.shared.*"]) as tap:
        with EventPublisher(
            node.amqp_url, timeout=CONFIRM_TIMEOUT_S, name=f"alarm-{uuid.uuid4().hex[:6]}"
        ) as publisher:
            node.ctl("set_disk_free_limit", "100000GB")  # more than any disk: the alarm goes off
            clear = threading.Timer(ALARM_S, _clear_alarm, args=(node,))
            clear.start()
            started = time.monotonic()
            try:
                refused = publisher.publish(batch)
            finally:
                clear.join()
            waited = time.monotonic() - started
        received = tap.collect(5.0, count=len(batch) + 1)  # and no more copies

    assert refused == set()
    assert waited >= ALARM_S - 0.5, "the confirms came while RabbitMQ blocked the connection"
    assert sorted(str(event.message_id) for event in received) == sorted(r.event_id for r in batch)


def _clear_alarm(node: PrivateNode) -> None:
    node.ctl("set_disk_free_limit", "1MB")
