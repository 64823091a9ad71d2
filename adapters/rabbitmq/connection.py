"""Connection parameters shared by every RabbitMQ connection docfleet opens itself."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

import pika
import pika.exceptions

HEARTBEAT_SECONDS = 30
BLOCKED_CONNECTION_TIMEOUT_SECONDS = 60.0
CONNECTION_DEFAULTS: dict[str, float] = {
    "heartbeat": HEARTBEAT_SECONDS,
    "blocked_connection_timeout": BLOCKED_CONNECTION_TIMEOUT_SECONDS,
}
"""What every RabbitMQ connection of docfleet's has, its own and Dramatiq's, unless its URL sets it."""
EVENTS_EXCHANGE_TYPE = "topic"  # doc.events (adapters.event_codec.EVENTS_EXCHANGE), durable


def connection_parameters(amqp_url: str, *, name: str) -> pika.URLParameters:
    """The URL's parameters with a heartbeat, a bound on resource-alarm blocking, and a connection name.

    Options given in the URL's query string (``?heartbeat=...``) win over these defaults.
    """
    params = pika.URLParameters(amqp_url)
    query = amqp_url.partition("?")[2]
    for option, value in CONNECTION_DEFAULTS.items():
        if f"{option}=" not in query:
            setattr(params, option, value)
    params.client_properties = client_properties(name)
    return params


def client_properties(name: str) -> dict[str, str]:
    """What names a connection of docfleet's in RabbitMQ's list of connections."""
    return {"connection_name": name, "product": "docfleet"}


def open_blocking_connection(amqp_url: str, *, name: str) -> pika.BlockingConnection:
    """A ``BlockingConnection`` with ``connection_parameters``. A failure to set it up is an
    ``AMQPConnectionError`` whatever its kind: pika lets a handshake's timeout or a TLS error with a plain
    listener out as exceptions of their own, which callers would otherwise miss as RabbitMQ's."""
    from pika.adapters.utils.connection_workflow import AMQPConnectorException

    try:
        return pika.BlockingConnection(connection_parameters(amqp_url, name=name))
    except (AMQPConnectorException, OSError) as error:
        raise pika.exceptions.AMQPConnectionError(f"{type(error).__name__}: {error}") from error


class BlockingConnectionOwner:
    """Closes its pika ``BlockingConnection`` on ``close()`` or on leaving a ``with`` block."""

    _connection: pika.BlockingConnection

    def close(self) -> None:
        if self._connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
