"""A tap on doc.events whose reader stopped reading holds a bounded backlog in RabbitMQ, the newest events."""

from __future__ import annotations

from adapters.rabbitmq.subscription import EventSubscription, ReceivedEvent
from tests.integration.test_audit_support import publish

ROUTING_KEY = "test.tap"
PUBLISHED = 4_000
BODY_BYTES = 8 * 1024  # 32 MiB in all: far more than the sockets between RabbitMQ and the tap can hold


def _drain(tap: EventSubscription) -> list[ReceivedEvent]:
    events = []
    while (event := tap.next_event(2.0)) is not None:
        events.append(event)
    return events


def test_a_tap_nobody_reads_keeps_only_its_newest_events(amqp_url: str) -> None:
    with EventSubscription(amqp_url, [ROUTING_KEY], backlog=100) as tap:
        bodies = [f"{seq:08d}".encode().ljust(BODY_BYTES, b" ") for seq in range(PUBLISHED)]
        publish(amqp_url, [(ROUTING_KEY, body) for body in bodies])  # the tap reads nothing meanwhile
        received = [int(event.body[:8]) for event in _drain(tap)]

    assert len(received) < PUBLISHED // 2  # the oldest were dropped in RabbitMQ, not held for the reader
    assert received == sorted(received)
    assert received[-1] == PUBLISHED - 1  # the newest kept
