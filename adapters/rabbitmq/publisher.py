"""Publishes outbox records on ``doc.events`` with publisher confirms, a whole batch at a time.

A batch is written out at once and its confirms are collected together on a ``SelectConnection`` driven
from this thread; a ``BlockingChannel`` in confirm mode would wait for one round trip per message.

``publish`` returns once RabbitMQ settled every message of the batch, with the event ids it refused
(nacked: ``workers.relay_refusals`` says what the relay does with them); it raises ``PublishError`` on a
lost connection or a timeout, and the caller publishes the batch again (at-least-once: consumers
deduplicate on ``message_id``, which is the event id).

Unroutable events (published with ``mandatory``, returned because no queue is bound to their routing
key) count as published: nobody subscribed to them. Retrying them would stall the relay behind one
routing key nobody listens to, forever; a warning counts them by routing key and names their event ids
instead, at once the first time and then at most once a minute (``adapters.rabbitmq.unroutable``), so
that a flood of them is not a flood of lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.rabbitmq.alarms import StopAsking
from adapters.rabbitmq.confirmed_channel import ConfirmedChannel
from adapters.rabbitmq.confirmed_channel import PublishError as PublishError  # raised here
from adapters.rabbitmq.confirmed_channel import PublishStopped as PublishStopped  # raised here
from adapters.rabbitmq.connection import EVENTS_EXCHANGE_TYPE
from adapters.rabbitmq.unroutable import UnroutableWarnings
from adapters.rabbitmq.wire import PublishableEvent, encode_body, message_properties

log = structlog.get_logger(__name__)

KEEPALIVE_EVERY_S = 1.0


class EventPublisher(ConfirmedChannel[PublishableEvent]):
    """One connection and one confirm-mode channel; not thread-safe: use it from one thread."""

    def __init__(
        self,
        amqp_url: str,
        *,
        timeout: float = 30.0,
        name: str = "docfleet-relay",
        unroutable: UnroutableWarnings | None = None,
        wait_out_alarms: StopAsking | None = None,
    ) -> None:
        """``unroutable``: how returned events are warned of; by default once a minute at most.
        ``wait_out_alarms``: see ``ConfirmedChannel``; the relay's stop flag."""
        self._nacked: list[str] = []
        self._returned: list[tuple[str, str]] = []
        self._unroutable = unroutable or UnroutableWarnings()
        self._loop_ran_at = time.monotonic()
        super().__init__(amqp_url, timeout=timeout, name=name, wait_out_alarms=wait_out_alarms)

    def publish(self, records: Sequence[PublishableEvent]) -> set[str]:
        """The ids of the events RabbitMQ refused; every other one it confirmed."""
        self._raise_if_broken()
        self._nacked.clear()
        self._returned.clear()
        self._send_and_confirm(records)
        self._loop_ran_at = time.monotonic()
        self._unroutable.add(self._returned)
        return set(self._nacked)

    def close(self) -> None:
        self._unroutable.warn_now()
        super().close()

    def keepalive(self) -> None:
        """Answers heartbeats and notices a closed connection while idle; raises ``PublishError`` then.

        The I/O loop runs at most once per ``KEEPALIVE_EVERY_S``, counting the publishes' own runs: a
        relay woken for every event would otherwise run it twice per event (each run of pika's loop
        sets up and tears down its poller), while heartbeats come tens of seconds apart."""
        now = time.monotonic()
        if self._failure is None and now - self._loop_ran_at >= KEEPALIVE_EVERY_S:
            ioloop = self._connection.ioloop
            timer = ioloop.call_later(0, ioloop.stop)
            ioloop.start()
            ioloop.remove_timeout(timer)
            self._loop_ran_at = now
        self._unroutable.warn_when_due()
        self._raise_if_broken()

    def _declare_topology(self, channel: Any, then: Callable[[], None]) -> None:
        channel.exchange_declare(
            EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE, durable=True, callback=lambda _frame: then()
        )

    def _basic_publish(self, channel: Any, item: PublishableEvent) -> None:
        channel.basic_publish(
            EVENTS_EXCHANGE,
            item.routing_key,
            encode_body(item.payload),
            message_properties(item),
            mandatory=True,
        )

    def _on_ready(self, channel: Any) -> None:
        log.info("publisher connected", exchange=EVENTS_EXCHANGE)
        super()._on_ready(channel)

    def _on_refused(self, item: PublishableEvent) -> None:
        self._nacked.append(item.event_id)

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        self._returned.append((method.routing_key, properties.message_id))

    def _closed_uncleanly(self) -> None:
        log.debug("connection to RabbitMQ closed uncleanly")
