"""Publishes ready-made message bodies to queues, on the default exchange, with publisher confirms.

The command-side twin of ``publisher.EventPublisher``: a batch is written out at once and its confirms
collected together, so it costs about one round trip, not one per message. ``publish`` returns the messages
RabbitMQ did not take (nacked, or returned as unroutable: ``mandatory`` is set); it raises ``PublishError``
on a lost connection or a timeout, when the fate of the batch is unknown. The queues given as ``declare``
are declared on connecting, with exactly the given arguments; by a user without RabbitMQ's configure
permission on them (a producer given write alone, as docs/contract.md §2 advises), passively: they must
exist then, and only their existence is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.exceptions import ChannelClosedByBroker
from pika.spec import ACCESS_REFUSED

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
        """On a channel of their own, which a refusal closes: the publishing channel stays open."""
        if self._declare:
            self._declare_on_side_channel(passive=False, then=then)
        else:
            then()

    def _declare_on_side_channel(self, *, passive: bool, then: Callable[[], None]) -> None:
        done = [False]

        def finished(side: Any) -> None:
            done[0] = True
            side.close()
            then()

        def closed(_side: Any, reason: BaseException) -> None:
            if done[0]:
                return
            if (
                not passive
                and isinstance(reason, ChannelClosedByBroker)
                and reason.reply_code == ACCESS_REFUSED
            ):
                self._declare_on_side_channel(passive=True, then=then)  # no configure permission
                return
            self._failure = f"declaring the contract's queues: {reason!r}"
            self._wake()

        def opened(side: Any) -> None:
            side.add_on_close_callback(closed)
            self._declare_next(side, list(self._declare), passive, lambda: finished(side))

        self._connection.channel(on_open_callback=opened)

    def _declare_next(
        self, channel: Any, remaining: list[QueueSpec], passive: bool, then: Callable[[], None]
    ) -> None:
        if not remaining:
            then()
            return
        spec, rest = remaining[0], remaining[1:]
        channel.queue_declare(
            spec.name,
            passive=passive,
            durable=True,
            arguments=None if passive else dict(spec.arguments),
            callback=lambda _frame: self._declare_next(channel, rest, passive, then),
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
