"""How many messages wait in a queue and how many consumers read it, by a passive declare."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pika
import pika.exceptions

from adapters.rabbitmq.connection import BlockingConnectionOwner


@dataclass(frozen=True)
class QueueState:
    ready: int  # messages waiting for a consumer; those delivered and not yet acked are not counted
    consumers: int


class QueueStates(BlockingConnectionOwner):
    """Asks on the connection it is given, and closes it."""

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self._connection = connection

    def of(self, queues: Iterable[str]) -> dict[str, QueueState | None]:
        """Each queue's state; None for a queue that does not exist."""
        return {queue: queue_state(self._connection, queue) for queue in queues}


def queue_state(connection: pika.BlockingConnection, queue: str) -> QueueState | None:
    """The queue's state, asked on a channel of its own (a 404 closes the channel it happens on); None
    when there is no such queue."""
    probe = connection.channel()
    try:
        declared = probe.queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker as error:
        if error.reply_code == 404:
            return None
        raise
    probe.close()
    return QueueState(int(declared.method.message_count), int(declared.method.consumer_count))
