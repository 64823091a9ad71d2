"""list_folder through the Results middleware: a page, a refusal as an answer, an invalid query."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dramatiq.results import ResultFailure

from tests.unit.fakes import FOLDER, FakeDatabase
from tests.workers.conftest import ALICE, BOB
from tests.workers.support import Fleet
from workers.contract_events import ListFolderResult


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
