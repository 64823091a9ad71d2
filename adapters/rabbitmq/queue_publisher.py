"""Publishes ready-made message bodies to queues, on the default exchange, with publisher confirms.

The command-side twin of ``publisher.EventPublisher``: a batch is written out at once and its confirms
collected together, so it costs about one round trip, not one per message. ``publish`` returns the messages
RabbitMQ did not take (nacked, or returned as unroutable: ``mandatory`` is set); it raises ``PublishError``
on a lost connection or a timeout, when the fate of the batch is unknown. The queues given as ``declare``
are declared on connecting, with exactly the given arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika

from adapters.rabbitmq.confirmed_channel import ConfirmedChannel
from adapters.rabbitmq.confirmed_channel import PublishError as PublishError  # raised here too
from adapters.rabbitmq.wire import CONTENT_TYPE


@dataclass(frozen=True)
class OutgoingMessage:
    queue: str
    message_id: str
    body: bytes


@dataclass(frozen=True)
class QueueSpec:
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Undelivered:
    message_id: str
    why: str
    earlier_copy_possible: bool = False
    """Refused on a second connection, after the first was lost: the first may have taken a copy."""


class QueuePublisher(ConfirmedChannel[OutgoingMessage]):
    """One connection, one confirm-mode channel. Not thread-safe: use it from one thread at a time."""

    def __init__(
        self,
        amqp_url: str,
        *,
        declare: Sequence[QueueSpec] = (),
        timeout: float = 30.0,
        name: str = "docfleet-client",
    ) -> None:
        self._declare = list(declare)
        self._undelivered: dict[str, str] = {}
        super().__init__(amqp_url, timeout=timeout, name=name)

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        """Sends every message, waits for every confirm; the messages RabbitMQ did not take."""
        self._raise_if_broken()
        self._undelivered.clear()
        self._send_and_confirm(messages)
        return [Undelivered(message_id, why) for message_id, why in self._undelivered.items()]

    def _declare_topology(self, channel: Any, then: Callable[[], None]) -> None:
        self._declare_next(channel, list(self._declare), then)

    def _declare_next(self, channel: Any, remaining: list[QueueSpec], then: Callable[[], None]) -> None:
        if not remaining:
            then()
            return
        spec, rest = remaining[0], remaining[1:]
        channel.queue_declare(
            spec.name,
            durable=True,
            arguments=dict(spec.arguments),
            callback=lambda _frame: self._declare_next(channel, rest, then),
        )

    def _basic_publish(self, channel: Any, item: OutgoingMessage) -> None:
        properties = pika.BasicProperties(
            message_id=item.message_id,
            content_type=CONTENT_TYPE,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        channel.basic_publish("", item.queue, item.body, properties, mandatory=True)

    def _on_refused(self, item: OutgoingMessage) -> None:
        self._undelivered.setdefault(item.message_id, "refused by RabbitMQ (nack)")

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        why = f"unroutable: no queue named {method.routing_key!r} ({method.reply_text})"
        self._undelivered[properties.message_id] = why
