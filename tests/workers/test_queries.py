"""list_folder through the Results middleware: a page, a refusal as an answer, an invalid query."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import dramatiq
import pytest
import valkey
from dramatiq.common import current_millis
from dramatiq.encoder import JSONEncoder
from dramatiq.results import ResultFailure
from dramatiq.results.backends.stub import StubBackend
from structlog.testing import capture_logs

from tests.unit.fakes import FOLDER, FakeDatabase
from tests.workers.conftest import ALICE, BOB
from tests.workers.support import Fleet, running_fleet
from workers.bootstrap import Application
from workers.contract import MAX_MESSAGE_BYTES, QUERIES_QUEUE
from workers.contract_events import ListFolderResult
from workers.settings import Settings


def test_a_page_lists_what_the_requester_may_view_with_every_documented_field(
    fleet: Fleet, db: FakeDatabase
) -> None:
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    db.with_document("d1", owner=ALICE, viewers=[BOB], created_at=moment)
    db.with_document("d2", owner=ALICE)

    result = fleet.result(fleet.send("list_folder", folder_id=FOLDER, requested_by=BOB))

    ListFolderResult.model_validate(result)
    assert result == {
        "documents": [
            {
                "id": "d1",
                "org_id": "acme",
                "folder_id": FOLDER,
                "owner_id": ALICE,
                "name": "d1.pdf",
                "mime_type": "application/pdf",
                "version": 1,
                "blob_uri": "s3://blobs/d1/1",
                "tags": ["seeded"],
                "created_at": "2024-05-01T12:30:00Z",
                "updated_at": "2024-05-01T12:30:00Z",
            }
        ],
        "next_cursor": None,
    }


def test_pages_follow_the_cursor_newest_first(fleet: Fleet, db: FakeDatabase) -> None:
    for n in range(5):
        db.with_document(f"d{n}", owner=ALICE)

    first = fleet.result(fleet.send("list_folder", folder_id=FOLDER, requested_by=ALICE, limit=3))
    second = fleet.result(
        fleet.send("list_folder", folder_id=FOLDER, requested_by=ALICE, limit=3, cursor=first["next_cursor"])
    )

    assert [d["id"] for d in first["documents"]] == ["d4", "d3", "d2"]
    assert [d["id"] for d in second["documents"]] == ["d1", "d0"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"requested_by": "mallory"}, "not_a_member"),
        ({"requested_by": ALICE, "cursor": "not-a-cursor"}, "invalid"),
        ({"requested_by": ALICE, "folder_id": "no-such-folder"}, "not_found"),
    ],
)
def test_a_refused_query_is_answered_with_an_error_and_acked(
    fleet: Fleet, db: FakeDatabase, kwargs: dict[str, str], reason: str
) -> None:
    message = fleet.send("list_folder", **{"folder_id": FOLDER, **kwargs})

    result = fleet.result(message)

    ListFolderResult.model_validate(result)
    assert result["documents"] == []
    assert result["next_cursor"] is None
    assert result["error"]["reason"] == reason
    assert result["error"]["detail"]
    assert fleet.dead_letters("documents-queries") == []
    assert db.events == []


def test_an_invalid_query_fails_at_once_and_writes_nothing(fleet: Fleet, db: FakeDatabase) -> None:
    message = fleet.send("list_folder", folder_id=FOLDER, requested_by=ALICE, limit="10")

    with pytest.raises(ResultFailure, match=r"limit: input should be a valid integer, not a string"):
        fleet.result(message)
    fleet.settle()
    assert [m.message_id for m in fleet.dead_letters("documents-queries")] == [message.message_id]
    assert db.events == []


def test_a_query_with_an_argument_named_self_fails_as_an_invalid_query(
    fleet: Fleet, db: FakeDatabase
) -> None:
    message = fleet.send("list_folder", folder_id=FOLDER, requested_by=ALICE, self="x")

    with pytest.raises(ResultFailure) as failure:
        fleet.result(message)
    fleet.settle()
    assert failure.value.orig_exc_type == "InvalidMessage"
    assert failure.value.orig_exc_msg == "invalid list_folder message: self: is not a field of this actor"
    [dead] = fleet.dead_letters("documents-queries")
    assert (dead.message_id, "retries" in dead.options) == (message.message_id, False)


def test_a_query_over_the_size_limit_fails_as_an_invalid_query_does(fleet: Fleet, db: FakeDatabase) -> None:
    message = fleet.send("list_folder", folder_id=FOLDER, requested_by=ALICE, cursor="x" * MAX_MESSAGE_BYTES)

    with pytest.raises(ResultFailure) as failure:
        fleet.result(message)
    fleet.settle()
    assert failure.value.orig_exc_type == "InvalidMessage"
    assert failure.value.orig_exc_msg.startswith("invalid list_folder message: message: the body is ")
    assert [m.message_id for m in fleet.dead_letters("documents-queries")] == [message.message_id]
    assert db.events == []


class _UnavailableAtFirst(StubBackend):
    """A results store that cannot take the first ``failures`` answers, as Valkey while it is down."""

    def __init__(self, failures: int, exceptions: int = 0) -> None:
        super().__init__(encoder=JSONEncoder())
        self.failures = failures
        self.exceptions = exceptions  # of the failures stored as answers

    def store_exception(self, message: Any, exception: Exception, ttl: int) -> None:
        if self.exceptions > 0:
            self.exceptions -= 1
            raise valkey.exceptions.ConnectionError("Valkey is unavailable")
        super().store_exception(message, exception, ttl)

    def store_result(self, message: Any, result: Any, ttl: int) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise valkey.exceptions.ConnectionError("Valkey is unavailable")
        super().store_result(message, result, ttl)


def test_an_answer_that_cannot_be_stored_is_retried_until_it_is(application: Application) -> None:
    backend = _UnavailableAtFirst(failures=2)
    with running_fleet(application, backend=backend) as fleet:
        result = fleet.result(fleet.send("list_folder", folder_id=FOLDER, requested_by=ALICE))
    assert result == {"documents": [], "next_cursor": None}
    assert backend.failures == 0


def test_an_answer_that_can_never_be_stored_is_dead_lettered_not_acked(application: Application) -> None:
    with running_fleet(application, backend=_UnavailableAtFirst(failures=100)) as fleet:
        fleet.send("list_folder", folder_id=FOLDER, requested_by=ALICE)
        fleet.settle()
        assert len(fleet.dead_letters(QUERIES_QUEUE)) == 1


def _sent_ago(fleet: Fleet, milliseconds: int, **kwargs: Any) -> dramatiq.Message[Any]:
    message = fleet.message("list_folder", **kwargs)
    return fleet.broker.enqueue(
        dataclasses.replace(message, message_timestamp=current_millis() - milliseconds)
    )


def test_a_query_sent_longer_ago_than_its_answer_is_kept_is_not_run(fleet: Fleet, db: FakeDatabase) -> None:
    """Whoever sent it gave up waiting: a page of 1,000 documents would be stored for nobody."""
    ttl_ms = Settings.from_env().result_ttl_ms
    db.with_document("d1", owner=ALICE)
    with capture_logs() as logs:
        message = _sent_ago(fleet, ttl_ms + 5_000, folder_id=FOLDER, requested_by=ALICE)
        fleet.settle()

    assert db.listing_reads == 0
    assert fleet.dead_letters(QUERIES_QUEUE) == []  # acked: there is nothing to repair
    [line] = [line for line in logs if line.get("message_id") == message.message_id and "outcome" in line]
    assert (line["event"], line["outcome"], line["actor"], line["answer"]) == (
        "expired",
        "expired",
        "list_folder",
        "stored",
    )
    assert re.fullmatch(
        rf"list_folder sent \d+\.\d s ago, longer than its answer is kept \({ttl_ms / 1000:g} s, "
        r"RESULT_TTL_MS\): not run",
        line["detail"],
    )
    with pytest.raises(ResultFailure) as failure:  # told at once to a reader who waits longer all the same
        fleet.result(message)
    assert failure.value.orig_exc_type == "QueryExpired"
    assert failure.value.orig_exc_msg == line["detail"]


def test_an_expired_query_whose_timestamp_was_written_in_seconds_is_told_so(fleet: Fleet) -> None:
    message = fleet.message("list_folder", folder_id=FOLDER, requested_by=ALICE)
    in_seconds = dataclasses.replace(message, message_timestamp=current_millis() // 1000)
    with capture_logs() as logs:
        fleet.broker.enqueue(in_seconds)
        fleet.settle()

    [line] = [line for line in logs if line.get("message_id") == message.message_id and "outcome" in line]
    assert line["outcome"] == "expired"
    told = "; its message_timestamp looks like seconds: it is milliseconds since 1970"
    assert line["detail"].endswith(told)


@pytest.mark.parametrize(
    ("ahead_ms", "told"),
    [
        (Settings.from_env().result_ttl_ms + 5_000, ": not run"),
        (None, "; its message_timestamp looks like microseconds: it is milliseconds since 1970"),
    ],
    ids=["a clock ahead", "microseconds"],
)
def test_a_query_stamped_further_in_the_future_than_its_answer_is_kept_is_not_run(
    fleet: Fleet, db: FakeDatabase, ahead_ms: int | None, told: str
) -> None:
    """Its age could never tell it expired: no producer waits that long, nor wrote that clock."""
    message = fleet.message("list_folder", folder_id=FOLDER, requested_by=ALICE)
    stamp = current_millis() * 1000 if ahead_ms is None else current_millis() + ahead_ms
    with capture_logs() as logs:
        fleet.broker.enqueue(dataclasses.replace(message, message_timestamp=stamp))
        fleet.settle()

    assert db.listing_reads == 0
    [line] = [line for line in logs if line.get("message_id") == message.message_id and "outcome" in line]
    assert line["outcome"] == "expired"
    assert re.fullmatch(
        r"list_folder stamped \d+\.\d s in the future, further than its answer is kept .*", line["detail"]
    )
    assert line["detail"].endswith(told), "a hint only where the stamp tells it"


def test_a_query_stamped_a_little_ahead_by_a_clock_nearly_in_step_is_answered(
    fleet: Fleet, db: FakeDatabase
) -> None:
    db.with_document("d1", owner=ALICE)

    result = fleet.result(_sent_ago(fleet, -5_000, folder_id=FOLDER, requested_by=ALICE))

    assert [document["id"] for document in result["documents"]] == ["d1"]


def test_a_query_sent_within_its_answers_time_to_live_is_answered(fleet: Fleet, db: FakeDatabase) -> None:
    ttl_ms = Settings.from_env().result_ttl_ms
    db.with_document("d1", owner=ALICE)

    result = fleet.result(_sent_ago(fleet, ttl_ms - 5_000, folder_id=FOLDER, requested_by=ALICE))

    assert [document["id"] for document in result["documents"]] == ["d1"]


def test_an_expired_query_whose_failure_cannot_be_stored_is_still_acked_unrun(
    application: Application, db: FakeDatabase
) -> None:
    with running_fleet(application, backend=_UnavailableAtFirst(failures=0, exceptions=1)) as fleet:
        with capture_logs() as logs:
            message = _sent_ago(
                fleet, Settings.from_env().result_ttl_ms + 1_000, folder_id=FOLDER, requested_by=ALICE
            )
            fleet.settle()
        assert fleet.dead_letters(QUERIES_QUEUE) == []
    assert db.listing_reads == 0
    told = [
        (line["event"], line.get("answer")) for line in logs if line.get("message_id") == message.message_id
    ]
    assert told == [("answer not stored", None), ("expired", "failed")]
