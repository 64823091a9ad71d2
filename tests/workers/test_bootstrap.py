"""The Application over fakes: verdicts with reasons, rejections once per message, closing."""

from __future__ import annotations

import pytest

from domain.commands import AddMember, ListFolderDocuments, ShareDocument
from domain.errors import DocumentNotFound, NotAMember
from domain.events import CommandRejected
from domain.roles import Role
from domain.use_cases.dispatch import Outcome
from tests.unit.fakes import FOLDER, ORG, FakeDatabase, FakeListingCache
from tests.workers.conftest import ALICE, BOB
from workers.bootstrap import Application, Verdict
from workers.settings import Settings


def test_execute_applies_once_per_message_id(application: Application, db: FakeDatabase) -> None:
    command = AddMember(org_id=ORG, user_id="dave")

    assert application.execute(command, message_id="m1", actor="add_member") is Outcome.APPLIED
    assert application.execute(command, message_id="m1", actor="add_member") is Outcome.DUPLICATE
    assert len(db.events) == 1


def test_handle_explains_a_refusal(application: Application, db: FakeDatabase) -> None:
    db.with_document("d1", owner=ALICE)
    share = ShareDocument(doc_id="d1", shared_by=BOB, shared_with=ALICE, role=Role.VIEWER)

    verdict = application.handle(share, message_id="m1", actor="share_document")

    assert verdict == Verdict(Outcome.REFUSED, "permission_denied", "user 'bob' may not share document 'd1'")


def test_handle_lets_not_found_propagate_for_a_retry(application: Application, db: FakeDatabase) -> None:
    share = ShareDocument(doc_id="ghost", shared_by=ALICE, shared_with=BOB, role=Role.VIEWER)

    with pytest.raises(DocumentNotFound):
        application.handle(share, message_id="m1", actor="share_document")
    assert "m1" not in db.applied_message_ids


def test_reject_records_one_rejection_per_message(application: Application, db: FakeDatabase) -> None:
    assert (
        application.reject("m1", "upload_document", "invalid", "name: is required", org_id=ORG) == "refused"
    )
    assert application.reject("m1", "upload_document", "invalid", "name: is required") == "duplicate"

    [rejected] = db.events
    assert isinstance(rejected, CommandRejected)
    assert (rejected.message_id, rejected.actor, rejected.org_id, rejected.doc_id) == (
        "m1",
        "upload_document",
        ORG,
        None,
    )


def test_list_folder_refuses_a_stranger(application: Application) -> None:
    with pytest.raises(NotAMember):
        application.list_folder(ListFolderDocuments(folder_id=FOLDER, requested_by="mallory"))


def test_close_runs_every_closer_even_after_a_failure(db: FakeDatabase) -> None:
    closed: list[str] = []

    def failing() -> None:
        closed.append("first")
        raise OSError("already closed")

    application = Application(
        new_uow=db.uow_factory(),
        listing_cache=FakeListingCache(),
        closers=(failing, lambda: closed.append("second")),
    )
    application.close()

    assert closed == ["first", "second"]


def test_from_settings_builds_without_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("VALKEY_URL", "redis://127.0.0.1:1/0")

    application = Application.from_settings(Settings.from_env(), threads=2)
    application.close()
