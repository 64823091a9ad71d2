"""A message under an id that a different command spent: not run, not dropped as a duplicate, but rejected
as ``message_id_reused`` and dead-lettered; on a StubBroker over the fakes."""

from __future__ import annotations

from structlog.testing import capture_logs

from domain.events import CommandRejected, DocumentUploaded, MemberAdded, ShareDenied
from tests.unit.fakes import ORG, FakeDatabase
from tests.workers.conftest import ALICE, BOB
from tests.workers.support import Fleet
from tests.workers.test_outcomes import UPLOAD, outcome_lines


def test_a_different_command_under_a_spent_id_is_rejected_and_dead_lettered(
    fleet: Fleet, db: FakeDatabase
) -> None:
    first = fleet.send("upload_document", **UPLOAD)
    fleet.settle()
    reused = fleet.message("add_member", org_id=ORG, user_id="dave").copy(message_id=first.message_id)
    with capture_logs() as logs:
        fleet.broker.enqueue(reused)
        fleet.settle()

    assert "dave" not in db.members[ORG], "not run"
    assert [dead.message_id for dead in fleet.dead_letters()] == [first.message_id]
    assert "retries" not in fleet.dead_letters()[0].options, "never retried"
    [rejected] = db.events_of(CommandRejected)
    assert (rejected.reason, rejected.actor, rejected.message_id, rejected.org_id) == (
        "message_id_reused",
        "add_member",
        first.message_id,
        ORG,
    )
    assert rejected.user_id == "dave"  # the reusing command's, not the upload's that spent the id
    assert "send it under a new message id" in rejected.detail
    [line] = outcome_lines(logs, first.message_id)
    assert (line["outcome"], line["reason"], line["rejection"]) == (
        "dead_lettered",
        "message_id_reused",
        "recorded",
    )
    assert db.documents["d1"].version == 1, "the first command's outcome stands"


def test_a_message_under_a_spent_id_delivered_again_records_its_rejection_once(
    fleet: Fleet, db: FakeDatabase
) -> None:
    """Redelivered, or sent again by its producer: the rejection keeps its event id, and a consumer of
    doc.events is told once; the second copy is dead-lettered all the same, its line saying so."""
    first = fleet.send("upload_document", **UPLOAD)
    fleet.settle()
    reused = fleet.message("add_member", org_id=ORG, user_id="dave").copy(message_id=first.message_id)
    other = fleet.message("add_member", org_id=ORG, user_id="erin").copy(message_id=first.message_id)
    with capture_logs() as logs:
        for message in (reused, reused, other):
            fleet.broker.enqueue(message)
            fleet.settle()

    rejected = db.events_of(CommandRejected)
    assert [event.user_id for event in rejected] == ["dave", "erin"], "another command: its own rejection"
    assert [line["rejection"] for line in outcome_lines(logs, first.message_id)] == [
        "recorded",
        "duplicate",
        "recorded",
    ]
    assert len(fleet.dead_letters()) == 3, "each copy kept for `dlq replay --new-id`"


def test_the_same_actor_with_other_arguments_is_another_command(fleet: Fleet, db: FakeDatabase) -> None:
    first = fleet.send("upload_document", **UPLOAD)
    fleet.settle()
    other = fleet.message("upload_document", **{**UPLOAD, "doc_id": "d2"}).copy(message_id=first.message_id)
    fleet.broker.enqueue(other)
    fleet.settle()

    assert "d2" not in db.documents
    [rejected] = db.events_of(CommandRejected)
    assert (rejected.reason, rejected.doc_id) == ("message_id_reused", "d2")
    assert len(fleet.dead_letters()) == 1


def test_a_copy_stated_differently_is_still_a_duplicate(fleet: Fleet, db: FakeDatabase) -> None:
    """Arguments in another order, an optional one left out where it was sent at its default: the same
    command, so a duplicate, acked."""
    first = fleet.send("add_member", org_id=ORG, user_id="dave")
    fleet.settle()
    again = fleet.message("add_member", user_id="dave", org_id=ORG).copy(message_id=first.message_id)
    with capture_logs() as logs:
        fleet.broker.enqueue(again)
        fleet.settle()

    assert [line["outcome"] for line in outcome_lines(logs, first.message_id)] == ["duplicate"]
    assert fleet.dead_letters() == []
    assert db.events_of(CommandRejected) == []
    assert len(db.events_of(MemberAdded)) == 1


def test_an_upload_sent_again_with_its_tags_at_their_default_is_a_duplicate(
    fleet: Fleet, db: FakeDatabase
) -> None:
    untagged = {key: value for key, value in UPLOAD.items() if key != "tags"}
    first = fleet.send("upload_document", **untagged)
    fleet.settle()
    fleet.broker.enqueue(
        fleet.message("upload_document", **untagged, tags=[]).copy(message_id=first.message_id)
    )
    fleet.settle()

    assert fleet.dead_letters() == []
    assert len(db.events_of(DocumentUploaded)) == 1


def test_an_id_spent_without_a_fingerprint_still_makes_a_duplicate(fleet: Fleet, db: FakeDatabase) -> None:
    """An id spent before fingerprints were kept, or by a rejection, cannot be compared: as before, a
    message sent under it is a duplicate."""
    db.with_applied("m-old")
    with capture_logs() as logs:
        fleet.broker.enqueue(fleet.message("add_member", org_id=ORG, user_id=BOB).copy(message_id="m-old"))
        fleet.settle()

    assert [line["outcome"] for line in outcome_lines(logs, "m-old")] == ["duplicate"]
    assert fleet.dead_letters() == []


def test_a_refused_command_keeps_its_fingerprint_too(fleet: Fleet, db: FakeDatabase) -> None:
    db.with_document("d9", owner=ALICE)
    refused = fleet.send("share_document", doc_id="d9", shared_by=BOB, shared_with=BOB, role="owner")
    fleet.settle()
    other = fleet.message("add_member", org_id=ORG, user_id="erin").copy(message_id=refused.message_id)
    fleet.broker.enqueue(other)
    fleet.settle()

    assert [denied.reason for denied in db.events_of(ShareDenied)] == ["permission_denied"]
    assert "erin" not in db.members[ORG]
    assert [event.reason for event in db.events_of(CommandRejected)] == ["message_id_reused"]


def test_an_id_spent_by_a_not_found_rejection_keeps_its_commands_fingerprint(
    fleet: Fleet, db: FakeDatabase
) -> None:
    """So a different command sent under it later is rejected as reused, not acked unrun, and a copy of
    the rejected one is still a duplicate."""
    ghost = {**UPLOAD, "folder_id": "no-such-folder"}
    rejected = fleet.send("upload_document", **ghost)
    fleet.settle()
    [not_found] = db.events_of(CommandRejected)
    assert not_found.reason == "not_found"
    assert db.spent_by(rejected.message_id) is not None

    with capture_logs() as logs:
        fleet.broker.enqueue(fleet.message("upload_document", **ghost).copy(message_id=rejected.message_id))
        fleet.settle()
        other = fleet.message("add_member", org_id=ORG, user_id="frank").copy(message_id=rejected.message_id)
        fleet.broker.enqueue(other)
        fleet.settle()

    assert [line["outcome"] for line in outcome_lines(logs, rejected.message_id)] == [
        "duplicate",
        "dead_lettered",
    ]
    assert [event.reason for event in db.events_of(CommandRejected)] == ["not_found", "message_id_reused"]
    assert "frank" not in db.members[ORG]
