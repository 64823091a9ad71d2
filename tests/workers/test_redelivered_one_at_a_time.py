"""Messages delivered again run one at a time per process and queue, in the order they came; a stalled turn
lets one more through, never the whole line."""

from __future__ import annotations

import threading
import time
from typing import Any

import dramatiq
from structlog.testing import capture_logs

from workers.middleware.lane import RedeliveredOneAtATime

SETTLE_S = 0.2  # long enough for a thread that is not held to have gone through


def delivery(message_id: str, *, redelivered: bool = True, queue: str = "documents") -> dramatiq.MessageProxy:
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue, actor_name="upload_document", args=(), kwargs={}, options={}, message_id=message_id
    )
    proxy = dramatiq.MessageProxy(message)
    proxy.redelivered = redelivered  # type: ignore[attr-defined]  # as Dramatiq's RabbitMQ consumer sets it
    return proxy


class Runner:
    """Runs each message's turn on a thread of its own, as Dramatiq's worker threads do."""

    def __init__(self, lane: RedeliveredOneAtATime) -> None:
        self.lane = lane
        self.started: list[str] = []
        self._ends: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}

    def start(self, message: dramatiq.MessageProxy) -> None:
        ends = self._ends[message.message_id] = threading.Event()

        def run() -> None:
            self.lane.before_process_message(dramatiq.get_broker(), message)
            self.started.append(message.message_id)
            ends.wait(timeout=10)
            self.lane.after_process_message(dramatiq.get_broker(), message)

        thread = self._threads[message.message_id] = threading.Thread(target=run)
        thread.start()
        time.sleep(SETTLE_S)

    def end(self, message_id: str) -> None:
        self._ends[message_id].set()
        self._threads[message_id].join(timeout=5)
        time.sleep(SETTLE_S)


def test_messages_delivered_again_take_turns_in_the_order_they_came() -> None:
    runner = Runner(RedeliveredOneAtATime())
    for message_id in ("m1", "m2", "m3"):
        runner.start(delivery(message_id))

    assert runner.started == ["m1"], "the others wait for their turn"
    runner.end("m1")
    assert runner.started == ["m1", "m2"]
    runner.end("m2")
    runner.end("m3")
    assert runner.started == ["m1", "m2", "m3"]


def test_a_first_delivery_and_another_queues_message_run_beside_a_turn() -> None:
    runner = Runner(RedeliveredOneAtATime())
    runner.start(delivery("m1"))
    runner.start(delivery("fresh", redelivered=False))
    runner.start(delivery("query", queue="documents-queries"))

    assert runner.started == ["m1", "fresh", "query"]
    for message_id in ("m1", "fresh", "query"):
        runner.end(message_id)


def test_a_skipped_message_ends_its_turn() -> None:
    lane = RedeliveredOneAtATime()
    skipped = delivery("m1")
    lane.before_process_message(dramatiq.get_broker(), skipped)
    lane.after_skip_message(dramatiq.get_broker(), skipped)
    runner = Runner(lane)

    runner.start(delivery("m2"))

    assert runner.started == ["m2"]
    runner.end("m2")


def test_a_stalled_turn_lets_the_next_run_beside_it_whose_turn_then_starts() -> None:
    runner = Runner(RedeliveredOneAtATime(stall_s=1.0))
    runner.start(delivery("stalled"))
    with capture_logs() as lines:
        runner.start(delivery("m2"))
        runner.start(delivery("m3"))
        assert runner.started == ["stalled"]
        time.sleep(0.6)  # at 1.0 s m2 overtakes the stalled turn; m3 waits for m2's, which has just begun

        assert runner.started == ["stalled", "m2"]
        runner.end("stalled")  # an overtaken turn ending does not end the one that overtook it
        assert runner.started == ["stalled", "m2"]
        runner.end("m2")

    assert runner.started == ["stalled", "m2", "m3"]
    assert [(line["event"], line["message_id"]) for line in lines] == [
        ("delivered again, runs beside another: the turn before it stayed busy", "m2")
    ]
    runner.end("m3")
