"""A confirm-mode channel on a ``SelectConnection`` driven from the calling thread: the machinery both
publishers share.

A batch is written out at once and its confirms are collected together, so it costs about one round trip,
not one per message as a ``BlockingChannel`` in confirm mode would. The I/O loop runs only while the
calling thread waits for something (the channel, the confirms, the closing handshake), and every callback
wakes it up, so a failure is noticed as soon as RabbitMQ reports it. Each publisher says which topology to
declare on connecting, how to send one item, and what a nack or a return means to it.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import pika
import pika.exceptions

from adapters.rabbitmq.alarms import AlarmWatch, StopAsking
from adapters.rabbitmq.connection import connection_parameters
from adapters.rabbitmq.connection_failures import connection_failure
from adapters.rabbitmq.vectored_writes import write_buffers_together

T = TypeVar("T")


class PublishError(Exception):
    """The batch may not all have reached RabbitMQ: publish it again, on a new publisher if it is broken."""


class PublishStopped(PublishError):
    """The owner's stop ended a wait for confirms that a resource alarm kept going (``alarms``)."""


# A server that does not answer the closing handshake is not waited for as long as for a confirm: the
# connection is given up (``_abandon``), and one blocking its publishers is not waited for at all.
CLOSE_TIMEOUT_S = 5.0


class ConfirmedChannel(ABC, Generic[T]):
    """One connection and one confirm-mode channel; not thread-safe: use it from one thread at a time.

    Subclasses set up their own state before calling ``__init__``: connecting already runs their hooks.
    """

    def __init__(
        self, amqp_url: str, *, timeout: float, name: str, wait_out_alarms: StopAsking | None = None
    ) -> None:
        """``wait_out_alarms``: the owner's stop flag, to wait out a resource alarm until it is set
        (checked each ``timeout``; ``alarms``); without it, a blocked batch times out as any other."""
        self._timeout = timeout
        self._alarm = AlarmWatch(wait_out_alarms)
        self._channel: Any = None
        self._failure: str | None = None
        self._closing = False
        self._until: Callable[[], bool] | None = None
        self._pending: dict[int, T] = {}
        self._last_tag = 0
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

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._failure = None  # from here on, only the closing handshake matters
        connection = self._connection
        if not connection.is_closed:
            try:
                if not connection.is_closing:  # a channel error may have begun closing it already
                    connection.close()
                self._run_until(
                    lambda: bool(connection.is_closed),
                    "closing the connection",
                    0.0 if self._alarm.blocked else min(self._timeout, CLOSE_TIMEOUT_S),  # never answered
                )
            except Exception:  # PublishError, AMQPError, or pika's AssertionError when cut mid-handshake
                self._abandon(connection)
        connection.ioloop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @abstractmethod
    def _declare_topology(self, channel: Any, then: Callable[[], None]) -> None:
        """Declares what the publisher sends to, then calls ``then()``."""

    @abstractmethod
    def _basic_publish(self, channel: Any, item: T) -> None:
        """Sends one item, with ``mandatory`` set."""

    @abstractmethod
    def _on_refused(self, item: T) -> None:
        """RabbitMQ nacked the item."""

    @abstractmethod
    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        """RabbitMQ returned a message as unroutable; its confirm (an ack) follows."""

    def _closed_uncleanly(self) -> None:
        """Hears that the connection is being given up, its socket closed without the handshake."""

    def _raise_if_broken(self) -> None:
        if self._failure is not None:
            raise PublishError(self._failure)

    def _send_and_confirm(self, items: Sequence[T]) -> None:
        """Sends every item, then waits for every confirm; raises ``PublishError`` if the fate is unknown."""
        try:
            for item in items:
                self._last_tag += 1
                self._pending[self._last_tag] = item
                self._basic_publish(self._channel, item)
        except pika.exceptions.AMQPError as error:
            self._failure = f"publishing failed: {error!r}"
            raise PublishError(self._failure) from error
        self._run_until(lambda: not self._pending, "waiting for publisher confirms", patient=True)

    def _run_until(
        self, done: Callable[[], bool], what: str, timeout: float | None = None, *, patient: bool = False
    ) -> None:
        """Runs the I/O loop until ``done()``, a failure, or the timeout (the channel's unless given; a
        ``patient`` wait starts it again while the alarm ``holds``); raises unless ``done()``."""
        timeout = self._timeout if timeout is None else timeout
        stopped = self._run_loop_until(done, timeout, patient=patient)
        if done():
            return
        raise self._failed_wait(what, timeout, stopped=stopped)

    def _run_loop_until(self, done: Callable[[], bool], timeout: float, *, patient: bool) -> bool:
        """Runs the I/O loop as ``_run_until`` says; returns whether the owner's stop ended the wait."""
        ioloop = self._connection.ioloop
        expired: list[bool] = []

        def expire() -> None:
            expired.append(True)
            ioloop.stop()

        self._until = lambda: done() or self._failure is not None
        timer = ioloop.call_later(timeout, expire)
        stopped = False
        try:
            while not self._until():
                if expired:  # out of time, unless a resource alarm holds the confirms and no stop came
                    if not (patient and self._alarm.holds(timeout)):
                        break
                    if stopped := self._alarm.stop_asked():
                        break
                    expired.clear()
                    timer = ioloop.call_later(timeout, expire)
                ioloop.start()
        finally:
            ioloop.remove_timeout(timer)
            self._until = None
        return stopped

    def _failed_wait(self, what: str, timeout: float, *, stopped: bool) -> PublishError:
        """Records why a wait ended without ``done()`` and returns the error to raise for it."""
        if stopped:
            self._failure = "stopped while waiting out a resource alarm (RabbitMQ blocked the connection)"
            return PublishStopped(f"{what}: {self._failure}")
        if self._failure is None and self._alarm.blocked:
            self._failure = (
                "RabbitMQ blocked the connection (a resource alarm: memory or disk) and did not lift it"
                f" within {timeout:g} s"
            )
        if self._failure is None:
            self._failure = f"no answer from RabbitMQ within {timeout:g} s"
        return PublishError(f"{what}: {self._failure}")

    def _abandon(self, connection: Any) -> None:
        """Gives up a connection that did not close cleanly, its socket closed now rather than whenever
        the garbage collector gets to it (RabbitMQ would keep it until then)."""
        self._closed_uncleanly()
        with contextlib.suppress(Exception):  # pika's own way out of a stream it gives up on
            connection._adapter_disconnect_stream()
            connection.ioloop.call_later(0, connection.ioloop.stop)
            connection.ioloop.start()

    def _wake(self) -> None:
        if self._until is not None and self._until():
            self._connection.ioloop.stop()

    def _on_connection_open(self, connection: Any) -> None:
        write_buffers_together(connection)  # a batch's publishes leave in one write
        connection.add_on_connection_blocked_callback(self._alarm.on_blocked)
        connection.add_on_connection_unblocked_callback(self._alarm.on_unblocked)
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Any) -> None:
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        self._declare_topology(
            channel,
            lambda: channel.confirm_delivery(self._on_confirm, callback=lambda _ok: self._on_ready(channel)),
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
            item = self._pending.pop(tag, None)
            if refused and item is not None:
                self._on_refused(item)
        self._wake()

    def _on_open_error(self, _connection: Any, error: BaseException) -> None:
        self._failure = connection_failure(error)
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
