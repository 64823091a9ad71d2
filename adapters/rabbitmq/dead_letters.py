"""Dead-letter queues, inspected and emptied without ever losing a message.

Every message is taken with ``basic.get`` and manual acknowledgement: browsing keeps what it took unacked
and gives it all back (``basic.nack``, requeue) before returning, so the queue is as it was. Moving a
message publishes the copy with a publisher confirm and acks the original only after the confirm: a crash
in between leaves both, never neither (the copy's message id makes the second one a duplicate). Anything
still unacked when the connection closes, for any reason, goes back to its queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pika
import pika.exceptions

from adapters.rabbitmq.connection import BlockingConnectionOwner, open_blocking_connection
from adapters.rabbitmq.queue_states import queue_state
from adapters.rabbitmq.wire import CONTENT_TYPE


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    body: bytes
    died_in: str | None  # the queue it was dead-lettered from (x-death)
    death_reason: str | None  # rejected, expired, maxlen, delivery_limit (x-death)
    died_at: datetime | None
    amqp_message_id: str | None = None  # the AMQP property its producer set, if any


@dataclass(frozen=True)
class Relocation:
    """Where a dead letter goes back to, and the body it goes back with."""

    queue: str
    body: bytes
    message_id: str


Decide = Callable[[DeadLetter], Relocation | None]


class DeadLetterQueues(BlockingConnectionOwner):
    """One connection, one confirm-mode channel. Not thread-safe."""

    def __init__(self, amqp_url: str, *, name: str = "docfleet-dlq") -> None:
        self._connection = open_blocking_connection(amqp_url, name=name)
        try:
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        except BaseException:
            self.close()
            raise

    def count(self, queue: str) -> int | None:
        """How many messages are ready in the queue; None when there is no such queue."""
        state = queue_state(self._connection, queue)  # on a channel of its own, not the main one
        return None if state is None else state.ready

    def browse(
        self, queue: str, *, limit: int | None = None, until: Callable[[DeadLetter], bool] | None = None
    ) -> list[DeadLetter]:
        """The first ``limit`` messages (all when None), stopping after one that ``until`` accepts;
        every one of them stays in the queue, in its place. [] when there is no such queue."""
        seen: list[DeadLetter] = []
        if self.count(queue) is None:
            return seen
        try:
            while limit is None or len(seen) < limit:
                taken = self._take(queue)
                if taken is None:
                    break
                seen.append(taken[1])
                if until is not None and until(taken[1]):
                    break
        finally:
            self._give_back()
        return seen

    def digest(self, queue: str) -> str:
        """A SHA-256 of every message's body, in queue order; all stay in the queue, in their place. The
        same for a missing queue as for an empty one."""
        digest = hashlib.sha256()
        if self.count(queue) is not None:
            try:
                while (taken := self._take(queue)) is not None:
                    digest.update(hashlib.sha256(taken[1].body).digest())
            finally:
                self._give_back()
        return digest.hexdigest()

    def move(
        self, queue: str, decide: Decide, moved: Callable[[Relocation], None] = lambda _relocation: None
    ) -> None:
        """Offers each message present now to ``decide``; moves those it relocates, leaves the others.

        ``moved`` hears of each once its copy is confirmed and the dead letter gone: if a later one
        fails, the caller still knows which went. Messages that arrive meanwhile are not offered.
        """
        with closing(self._each_present(queue)) as present:
            for tag, letter in present:
                relocation = decide(letter)
                if relocation is not None:
                    self._publish(relocation)
                    self._channel.basic_ack(tag)
                    moved(relocation)

    def delete_first(self, queue: str, count: int) -> int:
        """Deletes the first ``count`` messages of the queue, no more; how many it deleted. Messages that
        arrived after them are left, as a purge would not."""
        deleted = 0
        try:
            while deleted < count:
                taken = self._take(queue)
                if taken is None:
                    break
                self._channel.basic_ack(taken[0])
                deleted += 1
        finally:
            self._give_back()
        return deleted

    def delete_chosen(self, queue: str, chosen: Callable[[DeadLetter], bool]) -> int:
        """Deletes each message present now that ``chosen`` accepts; the others stay, in their place. How
        many it deleted. Messages that arrive meanwhile are not offered."""
        return self._chosen(queue, chosen, delete=True)

    def count_chosen(self, queue: str, chosen: Callable[[DeadLetter], bool]) -> int:
        """How many messages present now ``chosen`` accepts; every one stays, in its place, and none is
        kept in memory once offered."""
        return self._chosen(queue, chosen, delete=False)

    def _chosen(self, queue: str, chosen: Callable[[DeadLetter], bool], *, delete: bool) -> int:
        accepted = 0
        with closing(self._each_present(queue)) as present:
            for tag, letter in present:
                if chosen(letter):
                    accepted += 1
                    if delete:
                        self._channel.basic_ack(tag)
        return accepted

    def purge(self, queue: str) -> int:
        """Deletes every message of the queue; how many there were (0 when there is no such queue)."""
        if self.count(queue) is None:
            return 0
        return int(self._channel.queue_purge(queue).method.message_count)

    def _each_present(self, queue: str) -> Generator[tuple[int, DeadLetter]]:
        """Each message present now, taken unacked with its delivery tag; whatever is still unacked when
        the iteration ends or is closed goes back to the queue, in its place. Messages that arrive
        meanwhile are not taken."""
        try:
            for _ in range(self.count(queue) or 0):
                taken = self._take(queue)
                if taken is None:
                    return
                yield taken
        finally:
            self._give_back()

    def _take(self, queue: str) -> tuple[int, DeadLetter] | None:
        method, properties, body = self._channel.basic_get(queue, auto_ack=False)
        if method is None:
            return None
        return method.delivery_tag, _dead_letter(queue, properties, body)

    def _give_back(self) -> None:
        if self._channel.is_open:
            self._channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)

    def _publish(self, relocation: Relocation) -> None:
        """Raises ``pika.exceptions.UnroutableError`` or ``NackError`` unless RabbitMQ took the copy."""
        properties = pika.BasicProperties(
            message_id=relocation.message_id,
            content_type=CONTENT_TYPE,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        self._channel.basic_publish("", relocation.queue, relocation.body, properties, mandatory=True)


def _dead_letter(queue: str, properties: Any, body: bytes) -> DeadLetter:
    deaths = (properties.headers or {}).get("x-death") or [{}]
    latest = deaths[0] if isinstance(deaths, list) and isinstance(deaths[0], dict) else {}
    died_at = latest.get("time")
    return DeadLetter(
        queue=queue,
        body=body,
        died_in=_text(latest.get("queue")),
        death_reason=_text(latest.get("reason")),
        died_at=died_at if isinstance(died_at, datetime) else None,
        amqp_message_id=_text(properties.message_id),
    )


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None
