"""A message that RabbitMQ delivers again and again, each time after its worker stopped before
settling it, is dead-lettered rather than taken once more.

A message that kills the process running it (a native crash, the kernel's out-of-memory killer) is
never failed, so Dramatiq's retries never count it: RabbitMQ puts it back unacked, marked
``redelivered``, and the next worker takes it and dies too, for ever, with the fleet taken down each
time. Deliveries marked so are counted per message id (in Valkey, across the fleet); past
``REDELIVERY_LIMIT`` the message is dead-lettered unrun, with a line that says why, and
``docfleet dlq replay`` can send it again once its cause is found (and starts its count again).

A dying process takes every message it held with it, and a clean stop or a lost connection puts back
messages too, so most messages delivered again are innocent. They run one at a time in each process
(``RedeliveredOneAtATime``, registered first); a message is counted when its turn begins, and a turn that
ends, whatever its outcome, takes its count back once every other hook ran: that delivery did not kill its
process. The count is the number of its turns that never ended (a death on its first delivery is not one).
A killer's neighbours, handed back with it at each death, waited for their turn or finished it, so none
reaches the limit with it (unless a turn stalled for 30 s and the next ran beside it: a death then counts
both). One past the limit that has its outcome (committed, its ack lost with a process) is acked as the
duplicate it is, rather than dead-lettered: its command already had an outcome that acks it under its id
(not an invalid one's or a not-found one's rejection, which dead-letter it, nor another command's outcome
under the same id).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import NoReturn

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage

from workers.contract import QUERIES, command_or_none
from workers.middleware.resources import Resources
from workers.named_logger import NamedLogger

REDELIVERY_LIMIT = 5
SETTLED_BEFORE_OPTION = "docfleet_settled_before"  # marks a message acked past the limit as a duplicate

_log = NamedLogger("docfleet.worker")


def delivered_again(message: dramatiq.MessageProxy) -> bool:
    """Marked so by RabbitMQ (Dramatiq's consumer copies the flag): the messages that take turns and are
    counted, the one test both the lane and this limit must agree on."""
    return bool(getattr(message, "redelivered", False))


class RedeliveryLimit(Middleware):
    def __init__(self, resources: Resources, *, limit: int = REDELIVERY_LIMIT) -> None:
        self._resources = resources
        self._limit = limit
        self._counted = threading.local()
        self._open_turns: Counter[str] = Counter()  # counted, not yet ended nor uncounted
        self._worker_stopped = False  # once set, a turn that begins is taken back at once
        self._open_lock = threading.Lock()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        if delivered_again(message):
            self._count(message)

    def turn_ended(self, message: dramatiq.MessageProxy) -> None:
        """Its turn ended, after every other hook (``RedeliveredOneAtATime``): this delivery did not kill
        its process, so it is not counted, unless this limit dead-lettered or acked it."""
        if getattr(self._counted, "message_id", None) != message.message_id:
            return
        self._counted.message_id = None
        if self._close_turn(message.message_id):
            self._uncount(message.message_id)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Turns still running when the worker's stop gave up waiting for them (its shutdown timeout, 20 s
        under the Procfile, is shorter than a stalled turn's 30 s): the process stops cleanly, not killed
        by these messages, so their deliveries are not counted as deaths. Threads that were still waiting
        in the lane may begin their turns after this; each takes its own count back (``_open_turn``)."""
        with self._open_lock:
            self._worker_stopped = True
            still_running, self._open_turns = list(self._open_turns.elements()), Counter()
        for message_id in still_running:
            _log().warning(
                "the worker stopped while a message delivered again ran: not counted", message_id=message_id
            )
            self._uncount(message_id)

    def _open_turn(self, message_id: str) -> bool:
        """Records a counted turn as running; False once the worker has stopped, whose hook has already
        taken the running turns back and will not again."""
        with self._open_lock:
            if self._worker_stopped:
                return False
            self._open_turns[message_id] += 1
            return True

    def _close_turn(self, message_id: str) -> bool:
        """Whether the turn was still open (not already uncounted by a stop); it is closed from now on."""
        with self._open_lock:
            if not self._open_turns[message_id]:
                return False
            self._open_turns[message_id] -= 1
            if not self._open_turns[message_id]:
                del self._open_turns[message_id]
            return True

    def _uncount(self, message_id: str) -> None:
        try:
            self._resources.application().uncount_redelivery(message_id)
        except Exception as error:  # Valkey unreachable: the count stays one higher until it expires
            _log().warning("redelivery not uncounted", message_id=message_id, error=repr(error)[:300])

    def _count(self, message: dramatiq.MessageProxy) -> None:
        self._counted.message_id = None  # this thread's turn before, if any, ended or died with its process
        try:
            count = self._resources.application().count_redelivery(message.message_id)
        except Exception as error:  # Valkey unreachable: the message runs, as it would have uncounted
            _log().warning("redelivery not counted", message_id=message.message_id, error=repr(error)[:300])
            return
        if count is None:
            return
        if count <= self._limit:
            if self._open_turn(message.message_id):
                self._counted.message_id = message.message_id
            else:
                self._uncount(message.message_id)
            return
        self._skip_past_limit(message, count)

    def _skip_past_limit(self, message: dramatiq.MessageProxy, count: int) -> NoReturn:
        """Skips the message, to be acked unrun as a duplicate if its id already had its outcome, else
        dead-lettered. Past the limit the count stays: `docfleet dlq` reads it to say why."""
        told = f"delivered again {count} times after the worker holding it stopped before settling it"
        if self._acked_before(message):
            _log().info(
                "duplicate: delivered again too often, its id already had its outcome",
                outcome="duplicate",
                message_id=message.message_id,
                actor=message.actor_name,
                detail=f"{told} (limit {self._limit}): acked unrun",
            )
            message.options[SETTLED_BEFORE_OPTION] = True
            raise SkipMessage(f"redelivered {count} times, already settled")
        _log().error(
            "dead-lettered: delivered again too often",
            outcome="dead_lettered",
            message_id=message.message_id,
            actor=message.actor_name,
            reason="redelivered",
            detail=f"{told} (limit {self._limit}): it may stop the worker that runs it",
        )
        message.fail()
        raise SkipMessage(f"redelivered {count} times")

    def _acked_before(self, message: dramatiq.MessageProxy) -> bool:
        """Whether this command had, under its id, an outcome that acks it (not a rejection into the dead
        letters, nor another command's outcome under the same id); a query leaves none, and a failed
        lookup says no: the message is then dead-lettered, where nothing is lost."""
        if message.actor_name in QUERIES:
            return False
        command = command_or_none(message.actor_name, message.args, message.kwargs)
        try:
            return self._resources.application().acked_outcome(message.message_id, command)
        except Exception as error:
            _log().warning("inbox not read", message_id=message.message_id, error=repr(error)[:300])
            return False
