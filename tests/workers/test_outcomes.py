"""Each outcome of a command, through the broker, middleware and actors, on a StubBroker over the fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from adapters.postgres.errors import FolderCreatedConcurrently
from domain.events import CommandRejected, DocumentShared, DocumentUploaded, FolderCreated, ShareDenied
from domain.ports import UnitOfWork
from tests.unit.fakes import FOLDER, ORG, FakeDatabase, FakeListingCache
from tests.workers.conftest import ALICE, BOB, CAROL
from tests.workers.support import QUICK, Fleet, running_fleet
from workers.bootstrap import Application
from workers.contract import MAX_MESSAGE_BYTES

UPLOAD = {
    "doc_id": "d1",
    "org_id": ORG,
    "folder_id": FOLDER,
    "owner_id": ALICE,
    "name": "Q3 report.pdf",
    "mime_type": "application/pdf",
    "blob_uri": "s3://blobs/d1/v1",
    "tags": ["finance"],
}


def outcome_lines(logs: Sequence[Mapping[str, Any]], message_id: str) -> list[Mapping[str, Any]]:
    return [line for line in logs if line.get("message_id") == message_id and "outcome" in line]


def test_an_applied_command_commits_state_and_event_and_is_acked(fleet: Fleet, db: FakeDatabase) -> None:
    with capture_logs() as logs:
        message = fleet.send("upload_document", **UPLOAD)
        fleet.settle()

    assert db.documents["d1"].name == "Q3 report.pdf"
    assert [type(event) for event in db.events] == [DocumentUploaded]
    assert message.message_id in db.applied_message_ids
    assert fleet.dead_letters() == []
    [line] = outcome_lines(logs, message.message_id)
    assert line["outcome"] == "applied"
    assert line["actor"] == "upload_document"


def test_a_duplicate_message_id_has_one_effect_and_one_event(fleet: Fleet, db: FakeDatabase) -> None:
    message = fleet.message("upload_document", **UPLOAD)
    with capture_logs() as logs:
        fleet.broker.enqueue(message)
        fleet.settle()
        fleet.broker.enqueue(message)
        fleet.settle()

    assert len(db.events_of(DocumentUploaded)) == 1
    assert db.documents["d1"].version == 1
    assert [line["outcome"] for line in outcome_lines(logs, message.message_id)] == ["applied", "duplicate"]
    assert fleet.dead_letters() == []


def test_an_invalid_command_is_dead_lettered_at_once_with_a_rejection(fleet: Fleet, db: FakeDatabase) -> None:
    before = db.state()
    hostile = {**UPLOAD, "name": "x\x00y", "mime_type": "pdf", "blob_uri": "javascript:alert(1)", "size": 3}
    with capture_logs(processors=[merge_contextvars]) as logs:
        message = fleet.send("upload_document", **hostile)
        fleet.settle()

    [dead] = fleet.dead_letters()
    assert dead.message_id == message.message_id
    assert "retries" not in dead.options  # never retried
    assert db.state() == before
    [rejected] = db.events
    assert isinstance(rejected, CommandRejected)
    assert (rejected.reason, rejected.message_id, rejected.actor) == (
        "invalid",
        message.message_id,
        "upload_document",
    )
    assert (rejected.org_id, rejected.doc_id, rejected.folder_id) == (ORG, "d1", UPLOAD["folder_id"])
    for field in ("name", "mime_type", "blob_uri", "size"):
        assert f"{field}:" in rejected.detail
    [line] = [line for line in logs if line.get("message_id") == message.message_id]
    assert line["outcome"] == "invalid"
    assert line["actor"] == "upload_document"
    assert [problem.split(":")[0] for problem in line["problems"]] == [
        "name",
        "mime_type",
        "blob_uri",
        "size",
    ]
    assert "x\x00y" not in str(line)


def test_the_rejection_of_a_command_without_org_id_names_its_documents_organization(
    fleet: Fleet, db: FakeDatabase
) -> None:
    db.with_document("d1", owner=ALICE)
    message = fleet.send("share_document", doc_id="d1", shared_by=ALICE, shared_with=BOB, role="admin")
    fleet.settle()

    [rejected] = db.events
    assert isinstance(rejected, CommandRejected)
    assert (rejected.reason, rejected.message_id) == ("invalid", message.message_id)
    assert (rejected.org_id, rejected.doc_id) == (ORG, "d1")


def test_a_stray_id_in_an_invalid_message_is_not_named_as_the_commands(
    fleet: Fleet, db: FakeDatabase
) -> None:
    db.with_document("d1", owner=ALICE)
    fleet.send("revoke_access", doc_id="d1", revoked_by=ALICE, user_id=BOB, folder_id="stray")
    fleet.settle()

    [rejected] = db.events_of(CommandRejected)
    assert rejected.detail == "folder_id: is not a field of this actor"
    assert (rejected.doc_id, rejected.user_id, rejected.folder_id) == ("d1", BOB, None)


def test_a_stray_org_id_does_not_put_a_rejection_in_another_organizations_stream(
    fleet: Fleet, db: FakeDatabase
) -> None:
    """``share_document`` takes no ``org_id``: its rejection names the document's organization."""
    db.with_document("d1", owner=ALICE)
    fleet.send("share_document", doc_id="d1", shared_by=ALICE, shared_with=BOB, role="viewer", org_id="other")
    fleet.settle()

    [rejected] = db.events_of(CommandRejected)
    assert rejected.detail == "org_id: is not a field of this actor"
    assert (rejected.org_id, rejected.doc_id) == (ORG, "d1")


def test_a_stray_doc_id_is_not_named_by_the_rejection_of_a_command_about_no_document(
    fleet: Fleet, db: FakeDatabase
) -> None:
    fleet.send("add_member", org_id=ORG, user_id="dave", doc_id="d1")
    fleet.settle()

    [rejected] = db.events_of(CommandRejected)
    assert (rejected.org_id, rejected.doc_id, rejected.user_id) == (ORG, None, "dave")


def test_positional_arguments_make_a_message_invalid(fleet: Fleet, db: FakeDatabase) -> None:
    message = fleet.send("add_member", ORG, "dave")
    fleet.settle()

    assert [m.message_id for m in fleet.dead_letters()] == [message.message_id]
    [rejected] = db.events_of(CommandRejected)
    assert rejected.detail.startswith("args: positional arguments are not accepted")


@pytest.mark.parametrize("name", ["self", "actor_name", "args", "kwargs", "fn"])
def test_an_argument_named_as_a_parameter_of_the_actor_s_call_is_invalid_like_any_unknown_one(
    fleet: Fleet, db: FakeDatabase, name: str
) -> None:
    """Dramatiq's ``Actor.__call__`` took a kwarg named ``self`` for its own: a TypeError, retried."""
    with capture_logs() as logs:
        message = fleet.send("add_member", org_id=ORG, user_id="dave", **{name: "x"})
        fleet.settle()

    [dead] = fleet.dead_letters()
    assert dead.message_id == message.message_id
    assert "retries" not in dead.options  # never retried
    assert "dave" not in db.members[ORG]
    [rejected] = db.events_of(CommandRejected)
    assert (rejected.reason, rejected.detail) == ("invalid", f"{name}: is not a field of this actor")
    assert (rejected.org_id, rejected.user_id, rejected.folder_id) == (ORG, "dave", None)
    [line] = outcome_lines(logs, message.message_id)
    assert line["outcome"] == "invalid"


def test_a_message_over_the_size_limit_is_invalid(fleet: Fleet, db: FakeDatabase) -> None:
    with capture_logs() as logs:
        message = fleet.send("add_member", org_id=ORG, user_id="dave", padding="x" * MAX_MESSAGE_BYTES)
        fleet.settle()

    assert [m.message_id for m in fleet.dead_letters()] == [message.message_id]
    assert "dave" not in db.members[ORG]
    [rejected] = db.events_of(CommandRejected)
    assert rejected.reason == "invalid"
    assert "over the limit of 262144 bytes" in rejected.detail
    [line] = outcome_lines(logs, message.message_id)
    assert line["outcome"] == "invalid"


def test_an_unknown_actor_is_dead_lettered_with_a_rejection(fleet: Fleet, db: FakeDatabase) -> None:
    with capture_logs() as logs:
        message = fleet.send("delete_everything", org_id=ORG)
        fleet.settle()

    assert [m.message_id for m in fleet.dead_letters()] == [message.message_id]
    [rejected] = db.events_of(CommandRejected)
    assert (rejected.actor, rejected.reason, rejected.org_id) == ("delete_everything", "invalid", ORG)
    assert "there is no actor named 'delete_everything'" in rejected.detail
    [line] = outcome_lines(logs, message.message_id)
    assert line["outcome"] == "invalid"


def test_a_share_refused_by_the_rules_is_acked_with_share_denied(fleet: Fleet, db: FakeDatabase) -> None:
    db.with_document("d1", owner=ALICE, viewers=[BOB])
    with capture_logs() as logs:
        message = fleet.send("share_document", doc_id="d1", shared_by=BOB, shared_with=CAROL, role="viewer")
        fleet.settle()

    assert fleet.dead_letters() == []
    [denied] = db.events
    assert isinstance(denied, ShareDenied)
    assert denied.reason == "permission_denied"
    assert db.role_of("d1", CAROL) is None
    [line] = outcome_lines(logs, message.message_id)
    assert (line["outcome"], line["reason"]) == ("refused", "permission_denied")


def test_a_refused_command_other_than_share_is_acked_with_command_rejected(
    fleet: Fleet, db: FakeDatabase
) -> None:
    db.with_document("d1", owner=ALICE)
    message = fleet.send("revoke_access", doc_id="d1", revoked_by=ALICE, user_id=ALICE)
    fleet.settle()

    assert fleet.dead_letters() == []
    [rejected] = db.events
    assert isinstance(rejected, CommandRejected)
    assert (rejected.reason, rejected.message_id, rejected.doc_id) == ("last_owner", message.message_id, "d1")


def test_not_found_is_retried_then_dead_lettered_with_a_rejection(fleet: Fleet, db: FakeDatabase) -> None:
    with capture_logs() as logs:
        message = fleet.send(
            "share_document", doc_id="ghost", shared_by=ALICE, shared_with=BOB, role="viewer"
        )
        fleet.settle()

    [dead] = fleet.dead_letters()
    assert dead.message_id == message.message_id
    [rejected] = db.events
    assert isinstance(rejected, CommandRejected)
    assert (rejected.reason, rejected.doc_id, rejected.org_id) == ("not_found", "ghost", None)
    lines = outcome_lines(logs, message.message_id)
    assert [line["outcome"] for line in lines] == ["retrying"] * QUICK.not_found_retries + ["dead_lettered"]
    assert lines[-1]["reason"] == "not_found"
    assert lines[-1]["attempt"] == QUICK.not_found_retries + 1


def test_an_upload_into_a_folder_that_never_came_is_rejected_naming_the_folder(
    fleet: Fleet, db: FakeDatabase
) -> None:
    message = fleet.send("upload_document", **{**UPLOAD, "folder_id": "never"})
    fleet.settle()

    assert [dead.message_id for dead in fleet.dead_letters()] == [message.message_id]
    [rejected] = db.events_of(CommandRejected)
    assert (rejected.reason, rejected.org_id, rejected.folder_id) == ("not_found", ORG, "never")


def test_faults_before_a_not_found_leave_it_its_own_retries(db: FakeDatabase) -> None:
    """A Postgres outage uses fault retries only: the NotFound that follows still gets all of its own."""
    outage = iter(range(QUICK.fault_retries))
    working = db.uow_factory()

    def flaky(message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        if next(outage, None) is not None:
            raise OperationalError("connect", {}, ConnectionRefusedError("postgres is down"))
        return working(message_id, fingerprint)

    recovering = Application(new_uow=flaky, listing_cache=FakeListingCache())
    with running_fleet(recovering) as fleet, capture_logs() as logs:
        message = fleet.send(
            "share_document", doc_id="ghost", shared_by=ALICE, shared_with=BOB, role="viewer"
        )
        fleet.settle()

    lines = outcome_lines(logs, message.message_id)
    reasons = [line.get("reason") for line in lines]
    assert reasons == ["fault"] * QUICK.fault_retries + ["not_found"] * (QUICK.not_found_retries + 1)
    assert [line["outcome"] for line in lines][-1] == "dead_lettered"
    assert lines[-1]["attempt"] == QUICK.fault_retries + QUICK.not_found_retries + 1
    [rejected] = db.events
    assert isinstance(rejected, CommandRejected)
    assert rejected.reason == "not_found"


def test_a_command_whose_folder_arrives_later_is_applied_on_a_retry(fleet: Fleet, db: FakeDatabase) -> None:
    upload = fleet.send("upload_document", **{**UPLOAD, "folder_id": "later"})
    fleet.send("create_folder", folder_id="later", org_id=ORG, name="Later", created_by=ALICE)
    fleet.settle()

    assert fleet.dead_letters() == []
    assert {type(event) for event in db.events} == {FolderCreated, DocumentUploaded}
    assert upload.message_id in db.applied_message_ids


def test_a_fault_is_retried_then_dead_lettered_without_an_event(db: FakeDatabase) -> None:
    """Each try adds the member on ``db`` and records its event; the commit then meets the fault."""
    opened, added_at_commit = db.uow_factory(), []

    def failing_at_commit(message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        uow = opened(message_id, fingerprint)

        def commit() -> None:
            added_at_commit.append("dave" in uow.tables().members.get(ORG, set()))
            raise OperationalError("COMMIT", {}, ConnectionResetError("server closed the connection"))

        uow.commit = commit  # type: ignore[method-assign]
        return uow

    broken = Application(new_uow=failing_at_commit, listing_cache=FakeListingCache())
    with running_fleet(broken) as fleet, capture_logs() as logs:
        message = fleet.send("add_member", org_id=ORG, user_id="dave")
        fleet.settle()
        [dead] = fleet.dead_letters()

    assert dead.message_id == message.message_id
    assert added_at_commit == [True] * (1 + QUICK.fault_retries)
    assert db.events == []
    assert "dave" not in db.members.get(ORG, set())
    lines = outcome_lines(logs, message.message_id)
    assert [line["outcome"] for line in lines] == ["retrying"] * QUICK.fault_retries + ["dead_lettered"]
    assert lines[-1]["reason"] == "fault"
    assert lines[-1]["rejection"] is None  # a fault leaves the message replayable: no rejection


def test_a_race_lost_to_another_command_is_retried_at_info_and_then_decided(db: FakeDatabase) -> None:
    """Another worker commits a sibling of the same name between this command's read and its commit, so
    Postgres's unique index refuses the commit: nothing failed, and the retry refuses it as a conflict."""
    opened, raced = db.uow_factory(), list[FakeDatabase]()

    def losing_the_first_race(message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        uow = opened(message_id, fingerprint)
        if not raced:

            def commit() -> None:
                raced.append(db.with_folder("theirs", org=ORG, name="Reports"))
                raise FolderCreatedConcurrently("Key (org_id, parent_id, name)=(...) already exists.")

            uow.commit = commit  # type: ignore[method-assign]
        return uow

    racing = Application(new_uow=losing_the_first_race, listing_cache=FakeListingCache())
    with running_fleet(racing) as fleet, capture_logs() as logs:
        message = fleet.send("create_folder", folder_id="mine", org_id=ORG, name="Reports", created_by=ALICE)
        fleet.settle()

    retrying, decided = outcome_lines(logs, message.message_id)
    assert (retrying["outcome"], retrying["reason"], retrying["log_level"]) == (
        "retrying",
        "concurrent_write",
        "info",
    )
    assert (decided["outcome"], decided["reason"]) == ("refused", "conflict")
    assert "mine" not in db.folders
    assert fleet.dead_letters() == []


def _refuse_retries(fleet: Fleet, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """From now on, queueing a retry (a delayed copy) raises ``error``; other sends go through."""
    enqueue = fleet.broker.enqueue

    def refusing_retries(message: Any, *, delay: int | None = None) -> Any:
        if delay is not None:
            raise error
        return enqueue(message, delay=delay)

    monkeypatch.setattr(fleet.broker, "enqueue", refusing_retries)


def test_a_retry_that_cannot_be_queued_dead_letters_the_message_rather_than_losing_it(
    db: FakeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        raise OperationalError("connect", {}, ConnectionRefusedError("postgres is down"))

    broken = Application(new_uow=unavailable, listing_cache=FakeListingCache())
    with running_fleet(broken) as fleet, capture_logs() as logs:
        _refuse_retries(fleet, monkeypatch, RuntimeError("RabbitMQ refused the retry"))
        message = fleet.send("add_member", org_id=ORG, user_id="dave")
        fleet.settle()
        [dead] = fleet.dead_letters()

    assert dead.message_id == message.message_id
    assert [line["outcome"] for line in outcome_lines(logs, message.message_id)] == ["dead_lettered"]


def test_a_not_found_whose_retry_cannot_be_queued_stays_replayable_without_a_rejection(
    application: Application, db: FakeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share may arrive before its upload (contract §4). If RabbitMQ is lost just as its retry is
    queued, it has not outlived its retries: no not_found rejection may spend its message id."""
    with running_fleet(application) as fleet, capture_logs() as logs:
        _refuse_retries(fleet, monkeypatch, ConnectionError("RabbitMQ lost while queueing the retry"))
        message = fleet.send(
            "share_document", doc_id="ghost", shared_by=ALICE, shared_with=BOB, role="viewer"
        )
        fleet.settle()
        [dead] = fleet.dead_letters()

    assert dead.message_id == message.message_id
    assert db.events == []
    assert message.message_id not in db.applied_message_ids
    [line] = outcome_lines(logs, message.message_id)
    assert (line["outcome"], line["reason"], line["rejection"]) == ("dead_lettered", "fault", None)
    assert "retry not queued: ConnectionError" in line["detail"]


def test_one_message_at_a_time_per_thread_keeps_its_own_log_context(application: Application) -> None:
    with running_fleet(application, threads=4) as fleet, capture_logs(processors=[merge_contextvars]) as logs:
        sent = {
            fleet.send("add_member", org_id=ORG, user_id=f"user-{n}").message_id: f"user-{n}"
            for n in range(40)
        }
        fleet.settle()

    applied = [line for line in logs if line.get("outcome") == "applied"]
    assert len(applied) == 40
    assert all(line["user_id"] == sent[line["message_id"]] for line in applied)


@pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
def test_a_share_is_applied_for_each_role(fleet: Fleet, db: FakeDatabase, role: str) -> None:
    db.with_document("d1", owner=ALICE)
    fleet.send("share_document", doc_id="d1", shared_by=ALICE, shared_with=BOB, role=role)
    fleet.settle()

    [shared] = db.events
    assert isinstance(shared, DocumentShared)
    assert shared.role == role
