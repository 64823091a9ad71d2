"""A tap on doc.events whose reader stopped reading holds a bounded backlog in RabbitMQ, the newest events,
and can tell its reader that it dropped some."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.rabbitmq.subscription import EventSubscription, ReceivedEvent
from tests.integration.test_audit_support import publish
from tests.support.services import user_permitted

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
        told, told_again = tap.events_dropped(), tap.events_dropped()

    assert (told, told_again) == (True, False)  # told once, until more are dropped
    assert len(received) < PUBLISHED // 2  # the oldest were dropped in RabbitMQ, not held for the reader
    assert received == sorted(received)
    assert received[-1] == PUBLISHED - 1  # the newest kept


def test_a_tap_that_keeps_up_is_told_nothing_was_dropped(amqp_url: str) -> None:
    with EventSubscription(amqp_url, [ROUTING_KEY], backlog=100) as tap:
        publish(amqp_url, [(ROUTING_KEY, f"{seq}".encode()) for seq in range(50)])
        received = _drain(tap)

        assert len(received) == 50
        assert tap.events_dropped() is False


@pytest.fixture
def reader_url(amqp_url: str) -> Iterator[str]:
    """``amqp_url`` as a user who may set up a tap's own queues and read doc.events, and write nothing else:
    not to the default exchange, which a tap's dropped events are dead-lettered through."""
    own, tap_and_exchange = r"^amq\.gen-.*", r"^(doc\.events|amq\.gen-.*)$"
    with user_permitted(amqp_url, tap_and_exchange, own, tap_and_exchange, prefix="reader") as url:
        yield url


def test_a_reader_who_may_not_write_to_the_default_exchange_taps_without_being_told(
    amqp_url: str, reader_url: str
) -> None:
    with EventSubscription(reader_url, [ROUTING_KEY], backlog=100) as tap:
        publish(amqp_url, [(ROUTING_KEY, b"1")])
        received = _drain(tap)

        assert [event.body for event in received] == [b"1"]
        assert tap.events_dropped() is None
