"""Messages delivered again run one at a time per process, in the order they came; a stalled turn lets one
more through, never the whole line; a turn's end is heard of before the next begins."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

import dramatiq
from structlog.testing import capture_logs

from tests.workers.metric_samples import sample
from workers.metrics.definitions import WorkerMetrics
from workers.middleware.lane import RedeliveredOneAtATime

HELD_S = 0.3  # how long a message that must wait is watched not to start


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
        self.order: list[str] = []
        self.started: dict[str, threading.Event] = {}
        self._ends: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}

    def start(self, message: dramatiq.MessageProxy) -> threading.Event:
        started = self.started[message.message_id] = threading.Event()
        ends = self._ends[message.message_id] = threading.Event()

        def run() -> None:
            self.lane.before_process_message(dramatiq.get_broker(), message)
            self.order.append(message.message_id)
            started.set()
            ends.wait(timeout=30)
            self.lane.after_process_message(dramatiq.get_broker(), message)

        thread = self._threads[message.message_id] = threading.Thread(target=run, daemon=True)
        thread.start()
        return started

    def one_after_the_other(self, first: str, second: str) -> None:
        """Two messages delivered again: the second waits for the first's turn to end, then runs."""
        assert self.start(delivery(first)).wait(5)
        self.start(delivery(second))
        assert not self.started[second].wait(HELD_S), f"{second} waits for its turn"
        self.end(first)
        assert self.started[second].wait(5)
        self.end(second)

    def end(self, message_id: str) -> None:
        self._ends[message_id].set()
        self._threads[message_id].join(timeout=5)
        assert not self._threads[message_id].is_alive()


def test_messages_delivered_again_take_turns_in_the_order_they_came_whatever_their_queue() -> None:
    runner = Runner(RedeliveredOneAtATime())
    assert runner.start(delivery("m1")).wait(5)
    for message_id, queue in (("m2", "documents-queries"), ("m3", "documents"), ("m4", "documents-queries")):
        runner.start(delivery(message_id, queue=queue))
        assert not runner.started[message_id].wait(HELD_S), f"{message_id} waits for its turn"

    for message_id, following in (("m1", "m2"), ("m2", "m3"), ("m3", "m4")):
        runner.end(message_id)
        assert runner.started[following].wait(5)
    runner.end("m4")

    assert runner.order == ["m1", "m2", "m3", "m4"]


def test_a_first_delivery_runs_beside_a_turn() -> None:
    runner = Runner(RedeliveredOneAtATime())
    assert runner.start(delivery("m1")).wait(5)

    assert runner.start(delivery("fresh", redelivered=False)).wait(5)
    runner.end("fresh")
    runner.end("m1")


def test_a_turn_ends_for_a_skipped_message_too_but_a_first_delivery_takes_none() -> None:
    heard: list[str] = []
    lane = RedeliveredOneAtATime(on_turn_end=lambda message: heard.append(message.message_id))
    skipped, fresh = delivery("m1"), delivery("fresh", redelivered=False)
    lane.before_process_message(dramatiq.get_broker(), skipped)
    lane.after_skip_message(dramatiq.get_broker(), skipped)
    lane.before_process_message(dramatiq.get_broker(), fresh)
    lane.after_process_message(dramatiq.get_broker(), fresh)
    runner = Runner(lane)

    assert runner.start(delivery("m2")).wait(5), "the lane was left"
    runner.end("m2")

    assert heard == ["m1", "m2"]


def test_a_turns_end_is_heard_of_before_the_next_turn_begins() -> None:
    """So that the redelivery limit takes the count back before the next in line can be charged."""
    heard: list[tuple[str, bool]] = []

    def hear(message: dramatiq.MessageProxy) -> None:
        next_started = runner.started["next"].wait(HELD_S)  # were the lane left first, it would start
        heard.append((message.message_id, next_started))

    runner = Runner(RedeliveredOneAtATime(on_turn_end=hear))
    runner.one_after_the_other("first", "next")

    assert heard == [("first", False), ("next", True)]


def test_a_stalled_turn_lets_the_next_run_beside_it_whose_turn_then_starts() -> None:
    runner = Runner(RedeliveredOneAtATime(stall_s=1.5))
    assert runner.start(delivery("stalled")).wait(5)
    with capture_logs() as lines:
        runner.start(delivery("m2"))
        runner.start(delivery("m3"))
        assert not runner.started["m2"].wait(HELD_S)

        assert runner.started["m2"].wait(5), "it overtook the stalled turn"
        assert not runner.started["m3"].wait(HELD_S), "m3 waits for m2's turn, which has just begun"
        runner.end("stalled")  # an overtaken turn ending does not end the one that overtook it
        assert not runner.started["m3"].wait(HELD_S)
        runner.end("m2")
        assert runner.started["m3"].wait(5)

    assert [(line["event"], line["message_id"]) for line in lines] == [
        ("delivered again, runs beside another: the turn before it stayed busy", "m2")
    ]
    runner.end("m3")


def test_the_line_and_the_overtaken_turns_are_in_the_metrics() -> None:
    metrics = WorkerMetrics()
    runner = Runner(RedeliveredOneAtATime(stall_s=1.5, metrics=lambda: metrics))
    assert runner.start(delivery("stalled")).wait(5)
    with capture_logs():
        runner.start(delivery("m2"))
        runner.start(delivery("m3"))
        assert not runner.started["m3"].wait(HELD_S)

        waiting = sample(metrics.turns_waiting, "")
        assert runner.started["m2"].wait(5)
        assert not runner.started["m3"].wait(HELD_S)
        waiting_after_overtaking = sample(metrics.turns_waiting, "")

    assert (waiting, waiting_after_overtaking) == (2, 1)
    assert sample(metrics.turns_overtaken, "_total") == 1
    for message_id in ("stalled", "m2", "m3"):
        runner.end(message_id)
    assert sample(metrics.turns_waiting, "") == 0


class BrokenMetric:
    def inc(self) -> None:
        raise OSError("No space left on device")

    dec = inc


def test_a_metric_that_cannot_be_written_leaves_the_turns_as_they_were() -> None:
    broken = SimpleNamespace(turns_waiting=BrokenMetric(), turns_overtaken=BrokenMetric())
    runner = Runner(RedeliveredOneAtATime(metrics=lambda: cast(WorkerMetrics, broken)))
    with capture_logs() as lines:
        runner.one_after_the_other("m1", "m2")

    assert {line["event"] for line in lines} == {"turn metrics not written"}
