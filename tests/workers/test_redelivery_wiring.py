"""The lane and the redelivery limit as the broker wires them (``docfleet_middleware``), on a StubBroker
over the fakes: a message delivered again is counted when its turn begins and uncounted once every other
hook ran; one past the limit keeps its count and is dead-lettered unrun."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import pytest
from dramatiq.middleware import Middleware
from structlog.testing import capture_logs

from tests.unit.fakes import FOLDER, ORG, FakeDatabase, FakeListingCache
from tests.workers.conftest import ALICE, BOB, CAROL
from tests.workers.support import Fleet, running_fleet
from tests.workers.test_outcomes import UPLOAD
from workers.bootstrap import Application
from workers.middleware import RedeliveredOneAtATime
from workers.middleware.redeliveries import REDELIVERY_LIMIT

Lines = Sequence[Mapping[str, Any]]


@dataclass
class RecordingCounts:
    """A ``RedeliveryCounts`` over a dict; each call noted with the outcome lines logged before it."""

    logs: Lines
    counts: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (call, id, outcomes by then)

    def count(self, message_id: str) -> int:
        self.counts[message_id] = self.counts.get(message_id, 0) + 1
        self._note("count", message_id)
        return self.counts[message_id]

    def uncount(self, message_id: str) -> None:
        self.counts[message_id] -= 1
        if not self.counts[message_id]:
            del self.counts[message_id]
        self._note("uncount", message_id)

    def _note(self, call: str, message_id: str) -> None:
        outcomes = [line["outcome"] for line in self.logs if line.get("message_id") == message_id]
        self.calls.append((call, message_id, [o for o in outcomes if o is not None]))


class MarkedRedelivered(Middleware):
    """Marks the given message ids as RabbitMQ's consumer marks a message it delivers again."""

    def __init__(self, message_ids: set[str]) -> None:
        self.message_ids = message_ids

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        message.redelivered = message.message_id in self.message_ids  # type: ignore[attr-defined]


@dataclass
class Wired:
    fleet: Fleet
    db: FakeDatabase
    counts: RecordingCounts
    logs: Lines
    delivered_again: set[str]

    def send_again(self, message: dramatiq.Message[Any]) -> None:
        self.delivered_again.add(message.message_id)
        self.fleet.broker.enqueue(message)
        self.fleet.settle()


@pytest.fixture
def wired() -> Iterator[Wired]:
    db = FakeDatabase().with_member(ALICE, BOB, CAROL, org=ORG).with_folder(FOLDER, org=ORG)
    with capture_logs() as logs:
        counts = RecordingCounts(logs)
        application = Application(
            new_uow=db.uow_factory(), listing_cache=FakeListingCache(), redeliveries=counts
        )
        with running_fleet(application) as fleet:
            delivered_again: set[str] = set()
            fleet.broker.add_middleware(MarkedRedelivered(delivered_again), before=RedeliveredOneAtATime)
            yield Wired(fleet, db, counts, logs, delivered_again)


def calls_of(counts: RecordingCounts, message_id: str) -> Sequence[tuple[str, list[str]]]:
    return [(call, outcomes) for call, called_for, outcomes in counts.calls if called_for == message_id]


def test_a_turn_that_ends_is_uncounted_after_its_outcome_line(wired: Wired) -> None:
    message = wired.fleet.message("upload_document", **UPLOAD)
    wired.send_again(message)

    assert "d1" in wired.db.documents
    assert calls_of(wired.counts, message.message_id) == [("count", []), ("uncount", ["applied"])]
    assert wired.counts.counts == {}


def test_a_message_delivered_the_first_time_is_not_counted(wired: Wired) -> None:
    message = wired.fleet.message("upload_document", **UPLOAD)
    wired.fleet.broker.enqueue(message)
    wired.fleet.settle()

    assert "d1" in wired.db.documents
    assert wired.counts.calls == []


def test_a_refused_message_delivered_again_is_uncounted_after_its_outcome_line(wired: Wired) -> None:
    wired.db.with_document("d1", owner=ALICE, viewers=[BOB])
    message = wired.fleet.message(
        "share_document", doc_id="d1", shared_by=BOB, shared_with=CAROL, role="viewer"
    )
    wired.send_again(message)

    assert wired.db.role_of("d1", CAROL) is None
    assert calls_of(wired.counts, message.message_id) == [("count", []), ("uncount", ["refused"])]
    assert wired.counts.counts == {}


def test_past_the_limit_it_is_dead_lettered_unrun_and_keeps_its_count(wired: Wired) -> None:
    message = wired.fleet.message("upload_document", **UPLOAD)
    wired.counts.counts[message.message_id] = REDELIVERY_LIMIT  # its turns that never ended
    wired.send_again(message)

    assert "d1" not in wired.db.documents
    assert [m.message_id for m in wired.fleet.dead_letters()] == [message.message_id]
    assert wired.counts.counts == {message.message_id: REDELIVERY_LIMIT + 1}
    assert [call for call, _ in calls_of(wired.counts, message.message_id)] == ["count"]
