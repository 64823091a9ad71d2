"""The Application over fakes: verdicts with reasons, rejections once per message, closing."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress

import pytest

from domain.commands import AddMember, ListFolderDocuments, ShareDocument
from domain.errors import AlreadyApplied, DocumentNotFound, NotAMember
from domain.events import CommandRejected
from domain.ports import UnitOfWork, UnitOfWorkFactory
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, rejection
from tests.support.cycles import left_to_the_collector
from tests.unit.fakes import FOLDER, ORG, FakeDatabase, FakeListingCache
from tests.workers.conftest import ALICE, BOB
from workers.batching import Job, OpenBatch
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
    invalid = rejection(None, "m1", "upload_document", "invalid", "name: is required", org_id=ORG)
    assert application.reject(invalid) == "refused"
    assert application.reject(rejection(None, "m1", "upload_document", "invalid", "name: is required")) == (
        "duplicate"
    )

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


class _FakeBatch:
    """A batch over the fake database, whose units of work commit on their own; or one that cannot open."""

    def __init__(self, new_uow: UnitOfWorkFactory, *, opens: bool) -> None:
        self.new_uow, self._opens = new_uow, opens

    def __enter__(self) -> _FakeBatch:
        if not self._opens:
            raise ConnectionError("the batch's transaction could not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def commit(self) -> None:
        pass


def test_a_job_of_a_failed_batch_runs_again_in_a_batch_of_its_own(db: FakeDatabase) -> None:
    """In the order of locks every batch takes (``workers.batching.run_alone``)."""
    opened: list[list[str]] = []

    def open_batch(jobs: Sequence[Job]) -> _FakeBatch:
        opened.append([job.message_id for job in jobs])
        return _FakeBatch(db.uow_factory(), opens=len(opened) > 1)

    verdict = _add_dave_batched(db.uow_factory(), open_batch)

    assert verdict == Verdict(Outcome.APPLIED)
    assert opened == [["m1"], ["m1"]], "the batch that failed, then the job's own"
    assert db.applied_message_ids == {"m1"}


def _add_dave_batched(new_uow: UnitOfWorkFactory, open_batch: OpenBatch) -> Verdict:
    """``add_member`` as message m1, on an Application whose batches ``open_batch`` opens."""
    application = Application(
        new_uow=new_uow, listing_cache=FakeListingCache(), open_batch=open_batch, batched=(AddMember,)
    )
    return application.handle(AddMember(org_id=ORG, user_id="dave"), message_id="m1", actor="add_member")


class _CopyCommittedElsewhere:
    """A batch whose commit meets the inbox row of a copy of its message another process committed."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id

    def __enter__(self) -> _CopyCommittedElsewhere:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def new_uow(self, message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        return FakeDatabase().uow_factory()(message_id)

    def commit(self) -> None:
        raise AlreadyApplied(self.message_id)


def test_a_batched_command_whose_copy_committed_elsewhere_meanwhile_is_a_duplicate() -> None:
    opened: list[list[str]] = []

    def open_batch(jobs: Sequence[Job]) -> _CopyCommittedElsewhere:
        opened.append([job.message_id for job in jobs])
        return _CopyCommittedElsewhere(jobs[0].message_id)

    verdict = _add_dave_batched(FakeDatabase().uow_factory(), open_batch)

    assert verdict == Verdict(Outcome.DUPLICATE)
    assert opened == [["m1"], ["m1"]], "the batch that failed, then the job's own"


@pytest.mark.parametrize("first_batch_opens", [True, False], ids=["in its batch", "run again alone"])
def test_a_command_that_finds_nothing_leaves_nothing_to_the_cyclic_collector(
    db: FakeDatabase, first_batch_opens: bool
) -> None:
    """Its exception is handed from the batch to its own thread and raised there; no frame on the way may
    keep it in a cycle through its traceback."""
    opened: list[int] = []

    def open_batch(jobs: Sequence[Job]) -> _FakeBatch:
        opened.append(len(jobs))
        return _FakeBatch(db.uow_factory(), opens=first_batch_opens or len(opened) > 1)

    application = Application(
        new_uow=db.uow_factory(),
        listing_cache=FakeListingCache(),
        open_batch=open_batch,
        batched=(ShareDocument,),
    )
    share = ShareDocument(doc_id="ghost", shared_by=ALICE, shared_with=BOB, role=Role.VIEWER)
    with left_to_the_collector() as left, suppress(DocumentNotFound):
        application.handle(share, message_id="m1", actor="share_document")
    assert opened == ([1] if first_batch_opens else [1, 1])
    assert left == []


def test_with_group_commit_off_a_refusal_is_decided_and_recorded_in_one_batch(db: FakeDatabase) -> None:
    """A refusal recorded in a transaction of its own, after the one that decided it let go of the
    document's lock, could commit after a later change of that document, and its event come after."""
    db.with_document("d1", owner=ALICE)
    opened: list[list[str]] = []

    def open_batch(jobs: Sequence[Job]) -> _FakeBatch:
        opened.append([job.message_id for job in jobs])
        return _FakeBatch(db.uow_factory(), opens=True)

    def outside_any_batch(message_id: str | None, fingerprint: str | None = None, /) -> UnitOfWork:
        raise AssertionError(f"a unit of work outside the batch, for {message_id}")

    application = Application(
        new_uow=outside_any_batch,
        listing_cache=FakeListingCache(),
        open_batch=open_batch,
        batched=(ShareDocument,),
        max_batch=1,
    )
    share = ShareDocument(doc_id="d1", shared_by=BOB, shared_with=ALICE, role=Role.VIEWER)

    verdict = application.handle(share, message_id="m1", actor="share_document")

    assert verdict.outcome is Outcome.REFUSED
    assert opened == [["m1"]]
    assert [event.type for event in db.events] == ["ShareDenied"]
