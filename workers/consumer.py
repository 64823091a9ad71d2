"""The RabbitMQ consumer of a worker process: Dramatiq's, with deliveries screened and acks coalesced."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import partial
from typing import Any

import pika.exceptions
from dramatiq.broker import MessageProxy
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.errors import ConnectionClosed

from adapters.rabbitmq.vectored_writes import write_buffers_together
from workers.contract import QUERIES
from workers.hook_dispatch import OwnHooksOnly
from workers.metrics.worker import note_unreadable
from workers.middleware import Outcomes
from workers.middleware.answers import AnswersBeforeAck
from workers.middleware.screening import Unadmitted, screen, traced_by_property
from workers.publishing_connections import SharedPublishingConnection
from workers.settlement import mark_not_sent

_CONNECTION_ERRORS = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError)

# A delay queue's consumer holds the retries waiting for their time, and moves one back to its queue when
# it wakes: on a delivery, or when the wait for one times out (Dramatiq's worker timeout, 1 s). A retry due
# in 100 ms would wait about a second, and 8 not-found retries took 13 s instead of the 5 to 11 of their
# schedule. Only these consumers wake this often: the others' deliveries do not wait for their wake.
DELAY_QUEUE_WAKE_MS = 100

# Dramatiq lets a delay queue's consumer hold 1,000 retries per worker thread (32,000 at 32 threads), each
# in memory until due: a bound on what a flood of retries, or of bodies published there, can take (at
# most 125 MiB a queue, as none is over the size limit). Retries past it wait in RabbitMQ, and are taken
# as those held fall due: within a retry's longest backoff, and at worst within the 60 s an eta may be
# ahead (``MAX_RETRY_DELAY_MS``).
DELAY_QUEUE_PREFETCH = 500
CLOSE_WAIT_S = 5.0  # how long a closing consumer waits for the dead letters it handed to be recorded


class CoalescingAcksConsumer(_RabbitmqConsumer):
    """Dramatiq's consumer, sending the acks of messages finished together in one write.

    Dramatiq hands each ack to the connection's thread as a callback of its own, and pika writes and
    polls the socket once per ack: with group commit a batch's acks arrive together, and that was a
    fifth of a worker process's time. Here the acks finished while a callback is due wait in a list,
    that one callback buffers them all, and they leave in one write (``write_buffers_together``). Each
    is still sent only once its message's work has committed, and one by one (never ``multiple``), so a
    nack can never be swept up with them.
    """

    def __init__(self, broker: RabbitmqBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        write_buffers_together(self.connection)
        self._acks_lock = threading.Lock()
        self._acks: list[int] = []
        self._flush_due = False  # a callback that will send ``_acks`` is in the connection's hands
        self._delivered: dict[int, MessageProxy] = {}  # by delivery tag, until acked or nacked

    def __next__(self) -> MessageProxy | None:
        message: MessageProxy | None = super().__next__()  # type: ignore[no-untyped-call]
        if message is not None:
            with self._acks_lock:
                self._delivered[message._tag] = message
        return message

    def ack(self, message: MessageProxy) -> None:
        """Called by the worker threads once a message's work is done.

        If handing the flush over fails, by a lost connection or by anything raised in this thread
        meanwhile (an exception raised in it from outside), the next ack hands one over again: with the
        flush still marked due, every later ack of a live connection would wait on a flush that never
        comes."""
        schedules = False
        try:
            with self._acks_lock:
                if not self._settles(message, "ack"):
                    return
                self.known_tags.discard(message._tag)
                self._acks.append(message._tag)
                schedules = not self._flush_due  # else the flush due sends this one too
                self._flush_due = True
            if schedules:
                self.connection.add_callback_threadsafe(self._send_acks)
        except BaseException as error:
            if schedules:
                with self._acks_lock:
                    self._flush_due = False  # had it been handed over after all, a second flush is harmless
            if isinstance(error, _CONNECTION_ERRORS):
                raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]
            raise

    def nack(self, message: MessageProxy) -> None:
        with self._acks_lock:
            if not self._settles(message, "nack"):
                return
        super().nack(message)  # type: ignore[no-untyped-call]

    def _settles(self, message: MessageProxy, what: str) -> bool:
        """Whether this consumer delivered ``message``, forgotten from then on; the caller holds the lock.

        Dramatiq sends the ack or nack of a message to the consumer its thread runs when the work ends.
        After a lost connection that is a new one, whose channel numbers its deliveries from 1 again: the
        same tag would settle another message, one that may not have run. The message delivered on the
        lost connection went back to its queue with it, and comes again."""
        if self._delivered.get(message._tag) is message:
            del self._delivered[message._tag]
            return True
        self.logger.warning(
            "Not sent the %s of message %s: delivered on a connection since lost, it is delivered again.",
            what,
            message.message_id,
        )
        mark_not_sent(message)
        return False

    def _send_acks(self) -> None:
        """On the connection's thread: every pending ack as a frame of its own, into pika's output
        buffer. The consuming loop that called this writes the buffer out before it waits again."""
        with self._acks_lock:
            tags, self._acks = self._acks, []
            self._flush_due = False
        channel = self.channel._impl  # pika's own channel: its basic_ack buffers, never polls
        for tag in tags:
            channel.basic_ack(delivery_tag=tag)


class ScreeningConsumer(CoalescingAcksConsumer):
    """Dead-letters, with one clear line, a delivery that is not a docfleet envelope, names another
    queue or an actor no worker has.

    Dramatiq would log an undecodable body with its traceback, and would ack a message naming another
    queue on that queue's channel, where its delivery tag is unknown: it would never be acked. On a delay
    queue it wakes every ``DELAY_QUEUE_WAKE_MS``, so that retries go back to their queue when due.
    """

    def __init__(self, broker: RabbitmqBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        if queue_name.endswith(".DQ"):
            timeout = min(timeout, DELAY_QUEUE_WAKE_MS)
            prefetch = min(prefetch, DELAY_QUEUE_PREFETCH)
        super().__init__(broker, queue_name, prefetch, timeout)
        outcomes = next((m for m in broker.middleware if isinstance(m, Outcomes)), None)
        self._outcomes = outcomes
        self._answers = next((m for m in broker.middleware if isinstance(m, AnswersBeforeAck)), None)
        self._unsettled = 0  # deliveries screened out whose nack is not handed over yet
        self._unsettled_done = threading.Condition()
        self.iterator = self._screened(self.iterator)

    def _reject(self, message_id: str, actor: str, detail: str, ids: Mapping[str, str]) -> str | None:
        """A command's rejection is recorded; a query is answered with its failure."""
        if actor in QUERIES:
            return None if self._answers is None else self._answers.fail_unreadable(actor, message_id, detail)
        if self._outcomes is None:
            return None
        return self._outcomes.reject_unreadable(message_id, actor, detail, ids)

    def _screened(self, deliveries: Any) -> Any:
        for method, properties, body in deliveries:
            unadmitted = None if method is None else screen(body, self.queue_name, self.broker.actors)
            if unadmitted is None:
                yield method, properties, body
                continue
            unadmitted = traced_by_property(unadmitted, properties)
            with self._unsettled_done:
                self._unsettled += 1
            job = partial(self._dead_letter, unadmitted, method.delivery_tag)
            if self._outcomes is None:
                job()
            else:
                self._outcomes.later(job)
            yield None, None, None

    def _dead_letter(self, unadmitted: Unadmitted, tag: int) -> None:
        """Off this consumer's thread (``Outcomes.later``): the rejection recorded, the nack handed to the
        connection's thread, then the line logged and counted. The delivery waits unsettled meanwhile.
        If its connection is lost first, it is delivered again and screened again (a rejection is
        recorded once per message id), and only that time has its line."""
        try:
            if self.connection.is_closed:
                return
            rejection = unadmitted.record(self._reject)
            try:
                self._nack(tag)  # type: ignore[no-untyped-call]
            except pika.exceptions.AMQPError as error:
                self.logger.info("Not dead-lettered yet, its connection lost (%r): it comes again.", error)
                return
            unadmitted.tell(rejection)
            note_unreadable(self.queue_name)
        finally:
            with self._unsettled_done:
                self._unsettled -= 1
                self._unsettled_done.notify_all()

    def close(self) -> None:
        """Waits a while for this consumer's dead letters in hand, so that their nacks leave with it."""
        with self._unsettled_done:
            self._unsettled_done.wait_for(lambda: self._unsettled == 0, timeout=CLOSE_WAIT_S)
        super().close()  # type: ignore[no-untyped-call]


class ScreeningRabbitmqBroker(OwnHooksOnly, SharedPublishingConnection, RabbitmqBroker):
    @property
    def consumer_class(self) -> type[_RabbitmqConsumer]:
        return ScreeningConsumer
