"""A message delivered again after its worker stopped holding it: counted, and past the limit dead-lettered
unrun, with one line that says why."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

import dramatiq
import pytest
from dramatiq.middleware import SkipMessage
from structlog.testing import capture_logs

from domain.commands import AddMember, Command
from workers.middleware.redeliveries import SETTLED_BEFORE_OPTION, RedeliveryLimit
from workers.middleware.resources import Resources

LIMIT = 3


@dataclass
class CountingApplication:
    counts: dict[str, int] = field(default_factory=dict)
    fails_with: Exception | None = None
    settled: set[str] = field(default_factory=set)
    inbox_fails_with: Exception | None = None
    inbox_read: list[str] = field(default_factory=list)
    commands_read: list[Command | None] = field(default_factory=list)

    def count_redelivery(self, message_id: str) -> int | None:
        if self.fails_with is not None:
            raise self.fails_with
        self.counts[message_id] = self.counts.get(message_id, 0) + 1
        return self.counts[message_id]

    def uncount_redelivery(self, message_id: str) -> None:
        if self.fails_with is not None:
            raise self.fails_with
        left = self.counts.get(message_id, 0) - 1
        if left > 0:
            self.counts[message_id] = left
        else:  # as in Valkey: never below 0, no key left
            self.counts.pop(message_id, None)

    def acked_outcome(self, message_id: str, command: Command | None = None) -> bool:
        self.inbox_read.append(message_id)
        self.commands_read.append(command)
        if self.inbox_fails_with is not None:
            raise self.inbox_fails_with
        return message_id in self.settled


@dataclass
class LendingResources:
    app: CountingApplication

    def application(self) -> CountingApplication:
        return self.app


def delivery(message_id: str, *, redelivered: bool, actor: str = "upload_document") -> dramatiq.MessageProxy:
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents",
        actor_name=actor,
        args=(),
        kwargs={},
        options={},
        message_id=message_id,
    )
    proxy = dramatiq.MessageProxy(message)
    proxy.redelivered = redelivered  # type: ignore[attr-defined]  # as Dramatiq's RabbitMQ consumer sets it
    return proxy


def limit_over(app: CountingApplication) -> RedeliveryLimit:
    return RedeliveryLimit(cast(Resources, LendingResources(app)), limit=LIMIT)


def turn(middleware: RedeliveryLimit, message: dramatiq.MessageProxy, *, ends: bool) -> None:
    """A delivery: its turn begins, and ends (the actor returned or raised) or its process dies."""
    middleware.before_process_message(dramatiq.get_broker(), message)
    if ends:
        middleware.turn_ended(message)


def test_a_first_delivery_is_not_counted() -> None:
    app = CountingApplication()

    limit_over(app).before_process_message(dramatiq.get_broker(), delivery("m1", redelivered=False))

    assert app.counts == {}


def test_unended_turns_count_and_the_next_past_the_limit_is_dead_lettered_with_its_line() -> None:
    app, broker = CountingApplication(), dramatiq.get_broker()
    middleware = limit_over(app)
    for _ in range(LIMIT):
        message = delivery("m1", redelivered=True)
        turn(middleware, message, ends=False)  # its process died: its turn never ended
        assert not message.failed

    last = delivery("m1", redelivered=True)
    with capture_logs() as lines, pytest.raises(SkipMessage):
        middleware.before_process_message(broker, last)
    middleware.turn_ended(last)

    assert last.failed, "failed, so that the consumer nacks it into the dead-letter queue"
    [line] = lines
    assert (line["outcome"], line["reason"], line["message_id"]) == ("dead_lettered", "redelivered", "m1")
    assert f"delivered again {LIMIT + 1} times" in line["detail"]
    assert app.inbox_read == ["m1"], "asked whether its work had committed before dead-lettering it"
    assert app.counts == {"m1": LIMIT + 1}, "kept: `docfleet dlq` reads it to say why"


def past_the_limit(
    app: CountingApplication, message: dramatiq.MessageProxy
) -> list[MutableMapping[str, Any]]:
    """The lines of the delivery after ``LIMIT`` redeliveries of the same id, which raises SkipMessage."""
    app.counts[message.message_id] = LIMIT
    with capture_logs() as lines, pytest.raises(SkipMessage):
        limit_over(app).before_process_message(dramatiq.get_broker(), message)
    return lines


def test_past_the_limit_a_command_whose_work_had_committed_is_acked_as_a_duplicate() -> None:
    app = CountingApplication(settled={"m1"})
    message = delivery("m1", redelivered=True)

    [line] = past_the_limit(app, message)

    assert not message.failed, "not failed: acked, as its work had committed before its ack was lost"
    assert (line["outcome"], line["message_id"], line["actor"]) == ("duplicate", "m1", "upload_document")
    assert f"delivered again {LIMIT + 1} times" in line["detail"]
    assert message.options[SETTLED_BEFORE_OPTION] is True, "so that the metrics count a duplicate"


def test_past_the_limit_the_inbox_is_asked_about_the_messages_own_command() -> None:
    """Under an id another command spent, this one never ran: only its own command's outcome acks it."""
    app = CountingApplication(settled={"m1"})
    message = delivery("m1", redelivered=True, actor="add_member")
    message.kwargs.update(org_id="acme", user_id="bob")
    unreadable = delivery("m2", redelivered=True)  # no arguments: not a command

    past_the_limit(app, message)
    past_the_limit(app, unreadable)

    assert app.commands_read == [AddMember(org_id="acme", user_id="bob"), None]


def test_past_the_limit_an_inbox_that_cannot_be_read_leaves_the_message_dead_lettered() -> None:
    app = CountingApplication(settled={"m1"}, inbox_fails_with=ConnectionError("Postgres is down"))
    message = delivery("m1", redelivered=True)

    lines = past_the_limit(app, message)

    assert message.failed
    assert [line["event"] for line in lines] == ["inbox not read", "dead-lettered: delivered again too often"]


def test_past_the_limit_a_query_is_dead_lettered_without_reading_the_inbox() -> None:
    app = CountingApplication(settled={"q1"})
    message = delivery("q1", redelivered=True, actor="list_folder")

    [line] = past_the_limit(app, message)

    assert message.failed
    assert line["outcome"] == "dead_lettered"
    assert app.inbox_read == [], "a query leaves no inbox row: its id says nothing of its work"


def test_a_count_that_cannot_be_kept_lets_the_message_run_and_says_so() -> None:
    app = CountingApplication(fails_with=ConnectionError("Valkey is down"))
    message = delivery("m1", redelivered=True)

    with capture_logs() as lines:
        limit_over(app).before_process_message(dramatiq.get_broker(), message)

    assert not message.failed
    assert [line["event"] for line in lines] == ["redelivery not counted"]


def test_a_turn_that_ends_takes_its_count_back_so_a_killers_neighbour_never_reaches_the_limit() -> None:
    app = CountingApplication()
    middleware = limit_over(app)

    for _ in range(3 * LIMIT):  # handed back with the killer at each death, it ran its turn each time
        turn(middleware, delivery("neighbour", redelivered=True), ends=True)

    assert app.counts == {}


def test_a_first_delivery_is_not_uncounted() -> None:
    app = CountingApplication(counts={"m1": 2})
    middleware = limit_over(app)

    turn(middleware, delivery("m1", redelivered=False), ends=True)

    assert app.counts == {"m1": 2}


def test_a_count_that_cannot_be_taken_back_says_so() -> None:
    app = CountingApplication()
    middleware = limit_over(app)
    message = delivery("m1", redelivered=True)
    middleware.before_process_message(dramatiq.get_broker(), message)
    app.fails_with = ConnectionError("Valkey is down")

    with capture_logs() as lines:
        middleware.turn_ended(message)

    assert [line["event"] for line in lines] == ["redelivery not uncounted"]


def test_a_message_acked_past_the_limit_keeps_its_count() -> None:
    app = CountingApplication(counts={"m1": LIMIT}, settled={"m1"})
    middleware = limit_over(app)
    message = delivery("m1", redelivered=True)
    with capture_logs(), pytest.raises(SkipMessage):
        middleware.before_process_message(dramatiq.get_broker(), message)

    middleware.turn_ended(message)

    assert app.counts == {"m1": LIMIT + 1}


def test_a_turn_still_running_when_the_worker_stops_cleanly_is_not_counted() -> None:
    """The stop gave up waiting for it (the shutdown timeout, 20 s, is shorter than a stalled turn's 30 s)."""
    app = CountingApplication(counts={"m1": 2})
    middleware = limit_over(app)
    running = delivery("m1", redelivered=True)
    turn(middleware, running, ends=False)
    assert app.counts == {"m1": 3}

    with capture_logs() as lines:
        middleware.after_worker_shutdown(dramatiq.get_broker(), cast(dramatiq.Worker, None))
    assert app.counts == {"m1": 2}
    middleware.turn_ended(running)  # it ended after all, as the process went

    assert app.counts == {"m1": 2}, "the two deaths before it still count, once"
    [line] = lines
    assert (line["log_level"], line["message_id"]) == ("warning", "m1")


def test_a_clean_stop_leaves_ended_turns_and_the_limits_own_counts_alone() -> None:
    app = CountingApplication()
    middleware = limit_over(app)
    turn(middleware, delivery("m1", redelivered=True), ends=True)
    past_the_limit(app, delivery("m2", redelivered=True))

    middleware.after_worker_shutdown(dramatiq.get_broker(), cast(dramatiq.Worker, None))

    assert app.counts == {"m2": LIMIT + 1}


def test_a_turn_that_begins_after_the_workers_stop_takes_its_count_back_at_once() -> None:
    """A thread that was waiting in the lane when the stop gave up on it, and begins its turn later."""
    app = CountingApplication(counts={"m1": 1})
    middleware = limit_over(app)
    middleware.after_worker_shutdown(dramatiq.get_broker(), cast(dramatiq.Worker, None))

    late = delivery("m1", redelivered=True)
    turn(middleware, late, ends=False)
    assert app.counts == {"m1": 1}
    middleware.turn_ended(late)

    assert app.counts == {"m1": 1}, "taken back once"
