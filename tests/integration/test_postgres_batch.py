"""Group commit against Postgres: a batch decides exactly what the same messages decide one by one."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select

from adapters.postgres.batch import BatchKeys, SqlBatch
from adapters.postgres.errors import StaleDocumentVersion
from adapters.postgres.tables import outbox
from adapters.postgres.unit_of_work import unit_of_work_factory
from domain.commands import Command, CreateFolder, RevokeAccess, ShareDocument, UploadDocument
from domain.errors import AlreadyApplied, NotFound
from domain.ports import UnitOfWorkFactory
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, execute
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import (
    inbox_has,
    org_with_folder,
    upload_command,
    wait_until_blocked,
)
from tests.support.cycles import left_to_the_collector
from workers.batching import Job, run_alone

pytestmark = pytest.mark.integration

Message = tuple[str, Command]


@dataclass(frozen=True)
class Scenario:
    org_id: str
    folder_id: str
    doc_id: str
    messages: list[Message]


def _scenario(engine: Engine, new_id: IdMaker) -> Scenario:
    """Alice and bob are members, carol is not; the messages exercise every outcome and rule in turn."""
    org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
    doc_id = new_id("doc")
    first_upload = new_id("msg")
    commands: list[tuple[str, Command]] = [
        (first_upload, upload_command(org_id, folder_id, doc_id)),
        (new_id("msg"), ShareDocument(doc_id=doc_id, shared_by="alice", shared_with="bob", role=Role.EDITOR)),
        (new_id("msg"), ShareDocument(doc_id=doc_id, shared_by="bob", shared_with="carol", role=Role.VIEWER)),
        (new_id("msg"), _by("bob", upload_command(org_id, folder_id, doc_id, name="q1-final.pdf"))),
        (new_id("msg"), ShareDocument(doc_id=doc_id, shared_by="alice", shared_with="bob", role=Role.OWNER)),
        (new_id("msg"), RevokeAccess(doc_id=doc_id, revoked_by="bob", user_id="alice")),
        (new_id("msg"), RevokeAccess(doc_id=doc_id, revoked_by="bob", user_id="bob")),
        (new_id("msg"), upload_command(org_id, new_id("folder"), new_id("doc"))),
        (
            new_id("msg"),
            ShareDocument(doc_id=new_id("doc"), shared_by="bob", shared_with="alice", role=Role.VIEWER),
        ),
        (first_upload, upload_command(org_id, folder_id, doc_id)),
    ]
    return Scenario(org_id, folder_id, doc_id, commands)


def _by(user_id: str, upload: UploadDocument) -> UploadDocument:
    return UploadDocument(**{**upload.__dict__, "owner_id": user_id})


Result = Outcome | type[Exception]


def _one_by_one(engine: Engine, messages: list[Message]) -> list[Result]:
    return _results(messages, unit_of_work_factory(engine))


def _in_one_batch(engine: Engine, messages: list[Message], on_committed: object = None) -> list[Result]:
    with SqlBatch(engine, BatchKeys.of(messages), on_committed) as batch:  # type: ignore[arg-type]
        results = _results(messages, batch.new_uow)
        batch.commit()
    return results


def _results(messages: list[Message], new_uow: UnitOfWorkFactory) -> list[Result]:
    results: list[Result] = []
    for message_id, command in messages:
        try:
            results.append(execute(command, message_id=message_id, actor="t", new_uow=new_uow))
        except NotFound as missing:
            results.append(type(missing))
    return results


def _state(engine: Engine, scenario: Scenario) -> tuple[list[str], dict[str, Role], int | None, list[bool]]:
    query = select(outbox.c.type).where(outbox.c.org_id == scenario.org_id).order_by(outbox.c.seq)
    with engine.connect() as connection:
        events = list(connection.scalars(query))
    with unit_of_work_factory(engine)(None) as uow:
        roles = {
            user: role
            for user in ("alice", "bob", "carol")
            if (role := uow.policies.role_of(scenario.doc_id, user))
        }
        document = uow.documents.get(scenario.doc_id)
    claimed = [inbox_has(engine, message_id) for message_id, _ in scenario.messages]
    return events, roles, None if document is None else document.version, claimed


def test_a_batch_decides_what_the_messages_decide_one_by_one(engine: Engine, new_id: IdMaker) -> None:
    alone, together = _scenario(engine, new_id), _scenario(engine, new_id)

    alone_results = _one_by_one(engine, alone.messages)
    together_results = _in_one_batch(engine, together.messages[:-1]) + _one_by_one(
        engine, together.messages[-1:]
    )

    assert together_results == alone_results
    assert alone_results[:3] == [Outcome.APPLIED, Outcome.APPLIED, Outcome.REFUSED]
    assert alone_results[-1] is Outcome.DUPLICATE
    assert _state(engine, together) == _state(engine, alone)
    events, roles, version, claimed = _state(engine, together)
    assert roles == {"bob": Role.OWNER}
    assert version == 2
    assert claimed == [True] * 7 + [False, False, True]  # a message that found nothing missing is retried
    assert events.count("ShareDenied") == 1
    assert events.count("CommandRejected") == 1


def test_each_event_of_a_batch_names_its_own_message(engine: Engine, new_id: IdMaker) -> None:
    org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
    uploads = {new_id("msg"): upload_command(org_id, folder_id, new_id("doc")) for _ in "ab"}

    assert _in_one_batch(engine, list(uploads.items())) == [Outcome.APPLIED, Outcome.APPLIED]

    documents = [upload.doc_id for upload in uploads.values()]
    query = select(outbox.c.document_id, outbox.c.payload["message_id"].astext)
    with engine.connect() as connection:
        rows = connection.execute(query.where(outbox.c.document_id.in_(documents))).all()
    assert {row[0]: row[1] for row in rows} == {
        upload.doc_id: message_id for message_id, upload in uploads.items()
    }


def test_a_batch_leaves_nothing_to_the_cyclic_collector(engine: Engine, new_id: IdMaker) -> None:
    """A message's objects are freed as soon as it is done: a cycle per message (a unit of work and its
    repositories, each holding the other) cost a worker 5 to 7 % of its CPU (docs/performance.md)."""
    scenario = _scenario(engine, new_id)
    with left_to_the_collector() as left:
        results = _in_one_batch(engine, scenario.messages[:-1])
    assert {Outcome.APPLIED, Outcome.REFUSED} <= set(results)
    assert any(not isinstance(result, Outcome) for result in results)  # and found something missing
    assert left == []


def test_a_message_applied_before_the_batch_is_a_duplicate_in_it(engine: Engine, new_id: IdMaker) -> None:
    scenario = _scenario(engine, new_id)
    first = scenario.messages[:1]
    assert _one_by_one(engine, first) == [Outcome.APPLIED]
    assert _in_one_batch(engine, first + scenario.messages[1:2]) == [Outcome.DUPLICATE, Outcome.APPLIED]


def test_a_batch_refuses_a_sibling_named_as_one_it_created_in_another_unicode_form(
    engine: Engine, new_id: IdMaker
) -> None:
    org_id, _ = org_with_folder(unit_of_work_factory(engine), new_id)
    names = ["R\u00e9sum\u00e9s", "Re\u0301sume\u0301s"]
    messages: list[Message] = [
        (new_id("msg"), CreateFolder(folder_id=new_id("folder"), org_id=org_id, name=name, created_by="bob"))
        for name in names
    ]
    assert _in_one_batch(engine, messages) == [Outcome.APPLIED, Outcome.REFUSED]


def test_the_caches_hear_of_every_folder_the_batch_changed_after_it_commits(
    engine: Engine, new_id: IdMaker
) -> None:
    heard: list[set[str]] = []
    scenario = _scenario(engine, new_id)
    _in_one_batch(engine, scenario.messages[:2], lambda folders, documents: heard.append(folders))
    assert heard == [{scenario.folder_id}]


def test_a_batch_the_database_refuses_leaves_nothing(engine: Engine, new_id: IdMaker) -> None:
    """Another transaction inserts the batch's new document between the batch's reads and its commit."""
    scenario = _scenario(engine, new_id)
    messages = scenario.messages[:2]
    with SqlBatch(engine, BatchKeys.of(messages)) as batch:
        assert _one_by_one(engine, [(new_id("msg"), messages[0][1])]) == [Outcome.APPLIED]
        with pytest.raises(StaleDocumentVersion):  # at a message's commit, or at the latest the batch's
            _apply_and_commit(batch, messages)
    assert not any(inbox_has(engine, message_id) for message_id, _ in messages)
    assert _one_by_one(engine, messages) == [Outcome.APPLIED, Outcome.APPLIED]  # alone, each is sound


def _apply_and_commit(batch: SqlBatch, messages: list[Message]) -> None:
    _results(messages, batch.new_uow)
    batch.commit()


def test_a_job_run_again_alone_waits_for_a_batch_holding_its_copy_without_a_deadlock(
    engine: Engine, new_id: IdMaker
) -> None:
    """A failed batch's job runs again alone while a redelivered copy of its message is in another
    batch, which holds the document's lock: the job waits for that batch, then finds its message
    applied. Run in a unit of work of its own, it claimed the inbox row first and the two deadlocked."""
    scenario = _scenario(engine, new_id)
    _one_by_one(engine, scenario.messages[:1])
    message_id, share = scenario.messages[1]
    job = Job(share, message_id, "share_document")

    def open_batch(jobs: Sequence[Job]) -> SqlBatch:
        return SqlBatch(engine, BatchKeys.of((job.message_id, job.command) for job in jobs))

    def handle_with(new_uow: UnitOfWorkFactory, job: Job) -> Outcome:
        return execute(job.command, message_id=job.message_id, actor=job.actor, new_uow=new_uow)

    # The pool is entered first: should the test fail, the batch ends before the pool waits for its job.
    with ThreadPoolExecutor(1) as pool, open_batch([job]) as batch:
        alone = pool.submit(run_alone, job, open_batch, handle_with)
        wait_until_blocked(engine, "SELECT")
        in_batch = _results([(message_id, share)], batch.new_uow)
        batch.commit()
        assert (in_batch, alone.result(timeout=30)) == ([Outcome.APPLIED], Outcome.DUPLICATE)
    assert _state(engine, scenario)[0].count("DocumentShared") == 1


def test_a_batch_whose_message_another_process_applied_meanwhile_fails_as_already_applied(
    engine: Engine, new_id: IdMaker
) -> None:
    """A redelivered copy run by another process while the first ran: both read no inbox row, and the
    one that commits second meets the first's at its commit, told as that message's duplicate."""
    org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
    message = (new_id("msg"), upload_command(org_id, folder_id, new_id("doc")))
    other = (new_id("msg"), upload_command(org_id, folder_id, new_id("doc")))

    with SqlBatch(engine, BatchKeys.of([message, other])) as second:
        outcomes = _results([message, other], second.new_uow)
        with SqlBatch(engine, BatchKeys.of([message])) as first:
            assert _results([message], first.new_uow) == [Outcome.APPLIED]
            first.commit()
        with pytest.raises(AlreadyApplied) as raised:
            second.commit()

    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED], "neither saw the other's uncommitted claim"
    assert raised.value.message_id == message[0]
    assert not inbox_has(engine, other[0]), "the batch rolled back whole"
