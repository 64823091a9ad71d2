"""RabbitMQ as the ledger sees it: a consumer queue bound to every event, queue depths, dead letters.

Each call opens a connection of its own, so that a broker restart in between costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pika
import pika.exceptions

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.rabbitmq.connection import EVENTS_EXCHANGE_TYPE

LEDGER_QUEUE = "faults.ledger"
DEAD_LETTER_QUEUES = ("documents.XQ", "documents-queries.XQ")


@contextlib.contextmanager
def _channel(amqp_url: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def declare_ledger_queue(amqp_url: str) -> None:
    """A durable queue bound to ``#`` on doc.events: it outlives a broker restart, and so do its events."""
    with _channel(amqp_url) as channel:
        channel.exchange_declare(EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE, durable=True)
        channel.queue_declare(LEDGER_QUEUE, durable=True)
        channel.queue_bind(LEDGER_QUEUE, EVENTS_EXCHANGE, routing_key="#")


def depth(amqp_url: str, queue: str) -> int | None:
    """Messages ready in ``queue``; None when RabbitMQ or the queue is not there."""
    try:
        with _channel(amqp_url) as channel:
            return int(channel.queue_declare(queue, passive=True).method.message_count)
    except (pika.exceptions.AMQPError, OSError):
        return None


def dead_letters(amqp_url: str) -> int:
    return sum(depth(amqp_url, queue) or 0 for queue in DEAD_LETTER_QUEUES)


def drain_event_ids(amqp_url: str) -> list[str]:
    """The event id of every message in the ledger queue, duplicates included, taking them all."""
    received: list[str] = []
    with _channel(amqp_url) as channel:
        while True:
            method, properties, _ = channel.basic_get(LEDGER_QUEUE, auto_ack=True)
            if method is None:
                return received
            received.append(str(properties.message_id))
