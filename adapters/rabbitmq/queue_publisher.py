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
from types import TracebackType
from typing import Any, Self

import pika
import pika.exceptions

from adapters.rabbitmq.connection import connection_parameters
from adapters.rabbitmq.publisher import PublishError as PublishError  # raised here too
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


class QueuePublisher:
    """One connection, one confirm-mode channel. Not thread-safe: use it from one thread at a time."""

    def __init__(
        self,
        amqp_url: str,
        *,
        declare: Sequence[QueueSpec] = (),
        timeout: float = 30.0,
        name: str = "docfleet-client",
    ) -> None:
        self._timeout = timeout
        self._declare = list(declare)
        self._channel: Any = None
        self._failure: str | None = None
        self._closing = False
        self._pending: dict[int, OutgoingMessage] = {}
        self._last_tag = 0
        self._undelivered: dict[str, str] = {}
        self._until: Callable[[], bool] | None = None
        self._connection = pika.SelectConnection(
            connection_parameters(amqp_url, name=name),
            on_open_callback=lambda connection: connection.channel(on_open_callback=self._on_channel_open),
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_connection_closed,
        )
        try:
            self._run_until(lambda: self._channel is not None, "connecting to RabbitMQ")
        except PublishError:
            self.close()
            raise

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        """Sends every message, waits for every confirm; the messages RabbitMQ did not take."""
        if self._failure is not None:
            raise PublishError(self._failure)
        self._undelivered.clear()
        try:
            for message in messages:
                self._send(message)
        except pika.exceptions.AMQPError as error:
            self._failure = f"publishing failed: {error!r}"
            raise PublishError(self._failure) from error
        self._run_until(lambda: not self._pending, "waiting for publisher confirms")
        return [Undelivered(message_id, why) for message_id, why in self._undelivered.items()]

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._failure = None
        connection = self._connection
        if not (connection.is_closed or connection.is_closing):
            try:
                connection.close()
                self._run_until(lambda: bool(connection.is_closed), "closing the connection")
            except (PublishError, pika.exceptions.AMQPError):
                pass  # the server forgets an unclean connection all the same
        connection.ioloop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, message: OutgoingMessage) -> None:
        self._last_tag += 1
        self._pending[self._last_tag] = message
        properties = pika.BasicProperties(
            message_id=message.message_id,
            content_type=CONTENT_TYPE,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        self._channel.basic_publish("", message.queue, message.body, properties, mandatory=True)

    def _run_until(self, done: Callable[[], bool], what: str) -> None:
        """Runs the I/O loop until ``done()``, a failure, or the timeout; raises unless ``done()``."""
        ioloop = self._connection.ioloop
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            ioloop.stop()

        self._until = lambda: done() or self._failure is not None
        timer = ioloop.call_later(self._timeout, expire)
        try:
            while not self._until() and not expired:
                ioloop.start()
        finally:
            ioloop.remove_timeout(timer)
            self._until = None
        if done():
            return
        if self._failure is None:
            self._failure = f"no answer from RabbitMQ within {self._timeout:g} s"
        raise PublishError(f"{what}: {self._failure}")

    def _wake(self) -> None:
        if self._until is not None and self._until():
            self._connection.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        self._declare_next(channel, list(self._declare))

    def _declare_next(self, channel: Any, remaining: list[QueueSpec]) -> None:
        if not remaining:
            channel.confirm_delivery(self._on_confirm, callback=lambda _ok: self._on_ready(channel))
            return
        spec, rest = remaining[0], remaining[1:]
        channel.queue_declare(
            spec.name,
            durable=True,
            arguments=dict(spec.arguments),
            callback=lambda _frame: self._declare_next(channel, rest),
        )

    def _on_ready(self, channel: Any) -> None:
        self._channel = channel
        self._wake()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        last = method.delivery_tag
        tags = [tag for tag in self._pending if tag <= last] if method.multiple else [last]
        refused = isinstance(method, pika.spec.Basic.Nack)
        for tag in tags:
            message = self._pending.pop(tag, None)
            if refused and message is not None:
                self._undelivered.setdefault(message.message_id, "refused by RabbitMQ (nack)")
        self._wake()

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        why = f"unroutable: no queue named {method.routing_key!r} ({method.reply_text})"
        self._undelivered[properties.message_id] = why

    def _on_open_error(self, _connection: Any, error: BaseException) -> None:
        self._failure = f"cannot connect to RabbitMQ: {error!r}"
        self._wake()

    def _on_connection_closed(self, _connection: Any, reason: BaseException) -> None:
        if not self._closing:
            self._failure = f"connection to RabbitMQ lost: {reason!r}"
        self._wake()

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        if not self._closing:
            self._failure = f"channel closed: {reason!r}"
            if self._connection.is_open:
                self._connection.close()
        self._wake()
