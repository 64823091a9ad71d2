"""Messages that RabbitMQ delivers again run one at a time in each worker process, whatever their queue.

A worker process that dies takes with it every message it held, and RabbitMQ hands them all back, in the
same order, each time. Run side by side, the one that killed the process would kill the others with it
at every delivery, and the redelivery limit would count them all (``RedeliveryLimit``). Run one at a
time, each is counted only on its own turn: one waiting for its turn when the process died is not counted
for that death. Messages delivered for the first time do not take the lane.

The lane is first-come first-served. A turn that stays busy for ``stall_s`` (a statement waiting on a
lock, a publish held by a RabbitMQ alarm) lets the next message in line run beside it, with a warning
line, and that one's turn starts then: one more at a time, never the whole line at once. A death while
two turns run counts both.

Registered first among the middleware, so that a turn ends after every other ``after_*`` hook (the
outcome's line, the retry's publish), just before the ack; ``on_turn_end`` hears of it first (the
redelivery limit takes its count back).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import dramatiq
from dramatiq.middleware import Middleware

from workers.metrics import worker as worker_metrics
from workers.middleware.redeliveries import delivered_again
from workers.named_logger import NamedLogger

if TYPE_CHECKING:
    from workers.metrics.definitions import WorkerMetrics

STALL_S = 30.0

_log = NamedLogger("docfleet.worker")


class _Lane:
    def __init__(self, stall_s: float) -> None:
        self._turns = threading.Condition()
        self._line: deque[object] = deque()
        self._turn: object | None = None
        self._turn_started = 0.0
        self._stall_s = stall_s

    def enter(self, ticket: object) -> float | None:
        """Waits for the ticket's turn; returns None, or how long the turn it overtook had lasted."""
        with self._turns:
            self._line.append(ticket)
            try:
                overtaken = self._wait_for_turn(ticket)
            except BaseException:  # an interrupted wait must not leave its ticket blocking the line
                self._line.remove(ticket)
                self._turns.notify_all()
                raise
            self._line.popleft()
            self._turn, self._turn_started = ticket, time.monotonic()
            self._turns.notify_all()  # the next in line times the new turn
            return overtaken

    def _wait_for_turn(self, ticket: object) -> float | None:
        while self._line[0] is not ticket or self._turn is not None:
            if self._line[0] is not ticket:
                self._turns.wait()
                continue
            busy_for = time.monotonic() - self._turn_started
            if busy_for >= self._stall_s:
                return busy_for
            self._turns.wait(timeout=self._stall_s - busy_for)
        return None

    def leave(self, ticket: object) -> None:
        with self._turns:
            if self._turn is ticket:  # not when a stalled turn was overtaken: the new one stands
                self._turn = None
                self._turns.notify_all()


class RedeliveredOneAtATime(Middleware):
    def __init__(
        self,
        *,
        stall_s: float = STALL_S,
        on_turn_end: Callable[[dramatiq.MessageProxy], None] = lambda message: None,
        metrics: Callable[[], WorkerMetrics | None] = worker_metrics.current,
    ) -> None:
        self._lane = _Lane(stall_s)
        self._on_turn_end = on_turn_end
        self._metrics = metrics
        self._held = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        if not delivered_again(message):
            return
        ticket, metrics = object(), self._metrics()
        _best_effort(metrics, lambda counted: counted.turns_waiting.inc())
        try:
            overtaken = self._lane.enter(ticket)
        finally:
            _best_effort(metrics, lambda counted: counted.turns_waiting.dec())
        self._held.ticket = ticket  # set before anything else can fail: the turn must be left
        if overtaken is not None:
            _best_effort(metrics, lambda counted: counted.turns_overtaken.inc())
            _log().warning(
                "delivered again, runs beside another: the turn before it stayed busy",
                message_id=message.message_id,
                detail=f"the message delivered again before it had run for {overtaken:.1f} s",
            )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: object | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._leave(message)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        self._leave(message)

    def _leave(self, message: dramatiq.MessageProxy) -> None:
        ticket = getattr(self._held, "ticket", None)
        if ticket is None:
            return
        self._held.ticket = None
        try:
            self._on_turn_end(message)
        finally:
            self._lane.leave(ticket)


def _best_effort(metrics: WorkerMetrics | None, update: Callable[[WorkerMetrics], None]) -> None:
    """A metric that cannot be written must not leave a turn held nor a message uncounted."""
    if metrics is None:
        return
    try:
        update(metrics)
    except Exception as error:
        _log().warning("turn metrics not written", error=repr(error)[:300])
