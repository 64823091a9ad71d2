"""A temporary tap on ``doc.events``: a server-named exclusive queue bound to routing-key patterns.

The queue exists only while the subscription is open; events published before it was bound are not seen.
It keeps the newest ``TAP_BACKLOG`` events its reader has not taken (RabbitMQ drops the oldest past that):
a tap whose reader stopped reading (a paused pager, a stuck terminal) would otherwise hold every event of
the fleet in RabbitMQ's memory, until its memory alarm blocked every publisher, the relay among them.
RabbitMQ dead-letters what it drops into a second exclusive queue that keeps only the last one, so that
the reader can be told of a gap (``events_dropped``) at the cost of one message held.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pika.exceptions
from pika.spec import ACCESS_REFUSED

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.rabbitmq.connection import (
    EVENTS_EXCHANGE_TYPE,
    BlockingConnectionOwner,
    open_blocking_connection,
)

TAP_BACKLOG = 10_000  # events waiting in a tap's queue at most


@dataclass(frozen=True)
class ReceivedEvent:
    routing_key: str
    message_id: str | None
    type: str | None
    content_type: str | None
    delivery_mode: int | None
    body: bytes

    def payload(self) -> dict[str, Any]:
        """The body as JSON; raises ``ValueError`` if it is not a JSON object."""
        decoded = json.loads(self.body)
        if not isinstance(decoded, dict):
            raise ValueError("the event body is not a JSON object")
        return decoded


class EventSubscription(BlockingConnectionOwner):
    """Receives the events whose routing key matches one of ``patterns`` (topic syntax: ``*`` and ``#``)."""

    def __init__(
        self,
        amqp_url: str,
        patterns: Sequence[str],
        *,
        name: str = "docfleet-tap",
        backlog: int = TAP_BACKLOG,
    ) -> None:
        self._received: deque[ReceivedEvent] = deque()
        self._connection = open_blocking_connection(amqp_url, name=name)
        try:
            self._channel = self._connection.channel()
            self._channel.exchange_declare(EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE, durable=True)
            self.queue: str = self._declare_tap_queue(backlog)
            for pattern in patterns:
                self._channel.queue_bind(self.queue, EVENTS_EXCHANGE, routing_key=pattern)
            self._channel.basic_consume(self.queue, self._on_message, auto_ack=True)
        except BaseException:
            self.close()
            raise

    def _declare_tap_queue(self, backlog: int) -> str:
        """The tap's queue, its dropped events dead-lettered into ``_dropped``. The default exchange ("")
        routes a dead letter to the queue its routing key names; a user who may not write to it
        (``amq.default``) is refused such a queue, and gets one that drops events untold."""
        self._dropped: str | None = self._declare_bounded(1)
        to_dropped = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self._dropped}
        try:
            return self._declare_bounded(backlog, **to_dropped)
        except pika.exceptions.ChannelClosedByBroker as refused:
            if refused.reply_code != ACCESS_REFUSED:
                raise
        self._channel, self._dropped = self._connection.channel(), None
        return self._declare_bounded(backlog)

    def _declare_bounded(self, length: int, **arguments: str) -> str:
        """A server-named queue of this connection's alone, dropping its oldest message past ``length``."""
        bounded = {"x-max-length": length, "x-overflow": "drop-head", **arguments}
        declared = self._channel.queue_declare("", exclusive=True, arguments=bounded)
        return str(declared.method.queue)

    def events_dropped(self) -> bool | None:
        """Whether RabbitMQ dropped events of this tap since the last call, its reader having fallen more
        than its backlog behind: those events are lost to it, the ones after them still come. None when
        it cannot tell (``_declare_tap_queue``)."""
        if self._dropped is None:
            return None
        method, _properties, _body = self._channel.basic_get(self._dropped, auto_ack=True)
        return method is not None

    def next_event(self, timeout: float) -> ReceivedEvent | None:
        """The next event, waiting up to ``timeout`` seconds for one; None if none came."""
        deadline = time.monotonic() + timeout
        while not self._received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._connection.process_data_events(time_limit=min(remaining, 1.0))
        return self._received.popleft()

    def collect(self, timeout: float, *, count: int | None = None) -> list[ReceivedEvent]:
        """Events received within ``timeout`` seconds, returning early once ``count`` have come."""
        deadline = time.monotonic() + timeout
        events: list[ReceivedEvent] = []
        while count is None or len(events) < count:
            event = self.next_event(max(0.0, deadline - time.monotonic()))
            if event is None:
                break
            events.append(event)
        return events

    def _on_message(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self._received.append(
            ReceivedEvent(
                routing_key=method.routing_key,
                message_id=properties.message_id,
                type=properties.type,
                content_type=properties.content_type,
                delivery_mode=properties.delivery_mode,
                body=body,
            )
        )
