"""Publishes outbox records on ``doc.events`` with publisher confirms, a whole batch at a time.

A batch is written out at once and its confirms are collected together on a ``SelectConnection`` driven
from this thread; a ``BlockingChannel`` in confirm mode would wait for one round trip per message.

``publish`` returns only once RabbitMQ confirmed every message of the batch; it raises ``PublishError``
on a nack, a lost connection or a timeout, and the caller publishes the batch again (at-least-once:
consumers deduplicate on ``message_id``, which is the event id).

Unroutable events (published with ``mandatory``, returned because no queue is bound to their routing
key) count as published: nobody subscribed to them. Retrying them would stall the relay behind one
routing key nobody listens to, forever; a warning names the routing key and the event id instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import pika
import pika.exceptions
import structlog

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.rabbitmq.connection import EVENTS_EXCHANGE_TYPE, connection_parameters
from adapters.rabbitmq.wire import PublishableEvent, encode_body, message_properties

log = structlog.get_logger(__name__)


class PublishError(Exception):
    """The batch may not all have reached RabbitMQ: publish it again, on a new publisher if it is broken."""


class EventPublisher:
    """One connection and one confirm-mode channel; not thread-safe: use it from one thread."""

    def __init__(self, amqp_url: str, *, timeout: float = 30.0, name: str = "docfleet-relay") -> None:
        self._timeout = timeout
        self._channel: Any = None
        self._failure: str | None = None
        self._closing = False
        self._until: Callable[[], bool] | None = None
        self._pending: dict[int, PublishableEvent] = {}
        self._last_tag = 0
        self._nacked: list[str] = []
        self._returned: list[tuple[str, str]] = []
        self._connection = pika.SelectConnection(
            connection_parameters(amqp_url, name=name),
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_connection_closed,
        )
        try:
            self._run_until(lambda: self._channel is not None, "connecting to RabbitMQ")
        except PublishError:
            self.close()
            raise

    def publish(self, records: Sequence[PublishableEvent]) -> None:
        if self._failure is not None:
            raise PublishError(self._failure)
        self._nacked.clear()
        self._returned.clear()
        try:
            for record in records:
                self._send(record)
        except pika.exceptions.AMQPError as exc:
            self._failure = f"publishing failed: {exc!r}"
            raise PublishError(self._failure) from exc
        self._run_until(lambda: not self._pending, "waiting for publisher confirms")
        for routing_key, event_id in self._returned:
            log.warning("event had no subscriber", routing_key=routing_key, event_id=event_id)
        if self._nacked:
            raise PublishError(f"RabbitMQ refused {len(self._nacked)} of {len(records)} events")

    def keepalive(self) -> None:
        """Answers heartbeats and notices a closed connection while idle; raises ``PublishError`` then."""
        if self._failure is None:
            ioloop = self._connection.ioloop
            timer = ioloop.call_later(0, ioloop.stop)
            ioloop.start()
            ioloop.remove_timeout(timer)
        if self._failure is not None:
            raise PublishError(self._failure)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._failure = None  # from here on, only the closing handshake matters
        connection = self._connection
        if not (connection.is_closed or connection.is_closing):
            try:
                connection.close()
                self._run_until(lambda: bool(connection.is_closed), "closing the connection")
            except (PublishError, pika.exceptions.AMQPError):
                log.debug("connection to RabbitMQ closed uncleanly")
        connection.ioloop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, record: PublishableEvent) -> None:
        self._last_tag += 1
        self._pending[self._last_tag] = record
        self._channel.basic_publish(
            EVENTS_EXCHANGE,
            record.routing_key,
            encode_body(record.payload),
            message_properties(record),
            mandatory=True,
        )

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

    def _on_connection_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Any) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.exchange_declare(
            EVENTS_EXCHANGE,
            EVENTS_EXCHANGE_TYPE,
            durable=True,
            callback=lambda _frame: channel.confirm_delivery(
                self._on_confirm, callback=lambda _ok: self._on_ready(channel)
            ),
        )

    def _on_ready(self, channel: Any) -> None:
        self._channel = channel
        log.info("publisher connected", exchange=EVENTS_EXCHANGE)
        self._wake()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        last = method.delivery_tag
        tags = [tag for tag in self._pending if tag <= last] if method.multiple else [last]
        refused = isinstance(method, pika.spec.Basic.Nack)
        for tag in tags:
            record = self._pending.pop(tag, None)
            if refused and record is not None:
                self._nacked.append(record.event_id)
        self._wake()

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        self._returned.append((method.routing_key, properties.message_id))

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
