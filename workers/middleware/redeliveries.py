"""A message that RabbitMQ delivers again and again, each time after its worker stopped before
settling it, is dead-lettered rather than taken once more.

A message that kills the process running it (a native crash, the kernel's out-of-memory killer) is
never failed, so Dramatiq's retries never count it: RabbitMQ puts it back unacked, marked
``redelivered``, and the next worker takes it and dies too, for ever, with the fleet taken down each
time. Deliveries marked so are counted per message id (in Valkey, across the fleet); past
``REDELIVERY_LIMIT`` the message is dead-lettered unrun, with a line that says why, and
``docfleet dlq replay`` can send it again once its cause is found (and starts its count again). A
clean stop or a lost connection also puts back the messages a worker held, so a message is counted once
for each of those too: the limit leaves room for several before it.

A dying process takes with it every message it held, so each comes back marked ``redelivered``. Counting
them all would dead-letter the killer's neighbours with it, since RabbitMQ hands them back together each
time. Instead, each process runs the messages delivered again **one at a time** (``SuspectLane``), and
counts one when its turn comes: a message only prefetched, or waiting for its turn, when the process died
is not counted for that death, and one running alone among those delivered again is the likely cause of
the next. One that has its outcome (committed, its ack lost with a process) is acked past the limit as the
duplicate it is, rather than dead-lettered: its command already had an outcome that acks it under its id
(not an invalid one's or a not-found one's rejection, which dead-letter it, nor another command's outcome
under the same id).
"""

from __future__ import annotations

import threading

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage

from workers.contract import QUERIES, InvalidMessage, parse_command
from workers.middleware.resources import Resources
from workers.named_logger import NamedLogger

REDELIVERY_LIMIT = 5
LANE_WAIT_S = 30.0  # past it, a message delivered again runs beside the one holding the lane, and says so
SETTLED_BEFORE_OPTION = "docfleet_settled_before"  # marks a message acked past the limit as a duplicate

_log = NamedLogger("docfleet.worker")


class SuspectLane:
    """One message delivered again at a time in this process. The lock is held from a message's
    ``before_process_message`` to its ``after_*`` hook, both run on the same worker thread."""

    def __init__(self, wait_s: float) -> None:
        self._lock = threading.Lock()
        self.wait_s = wait_s
        self._held = threading.local()

    def enter(self) -> bool:
        """Waits for the lane; False when it stayed busy past the wait (the message runs anyway)."""
        self._held.lane = self._lock.acquire(timeout=self.wait_s)
        return bool(self._held.lane)

    def leave(self) -> None:
        if getattr(self._held, "lane", False):
            self._held.lane = False
            self._lock.release()


class RedeliveryLimit(Middleware):
    def __init__(
        self, resources: Resources, *, limit: int = REDELIVERY_LIMIT, lane_wait_s: float = LANE_WAIT_S
    ) -> None:
        self._resources = resources
        self._limit = limit
        self._lane = SuspectLane(lane_wait_s)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        if not getattr(message, "redelivered", False):
            return
        if not self._lane.enter():
            _log().warning(
                "delivered again, runs beside another: the lane stayed busy",
                message_id=message.message_id,
                detail=f"waited {self._lane.wait_s} s for the message delivered again before it",
            )
        self._count(message)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: object | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._lane.leave()

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        self._lane.leave()

    def _count(self, message: dramatiq.MessageProxy) -> None:
        try:
            count = self._resources.application().count_redelivery(message.message_id)
        except Exception as error:  # Valkey unreachable: the message runs, as it would have uncounted
            _log().warning("redelivery not counted", message_id=message.message_id, error=repr(error)[:300])
            return
        if count is None or count <= self._limit:
            return
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
        try:
            command = parse_command(message.actor_name, message.args, message.kwargs)
        except InvalidMessage:
            command = None
        try:
            return self._resources.application().acked_outcome(message.message_id, command)
        except Exception as error:
            _log().warning("inbox not read", message_id=message.message_id, error=repr(error)[:300])
            return False
