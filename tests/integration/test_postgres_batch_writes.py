"""A batch's reads and writes: policies read once its documents are locked, and every row written in its
commit statement as its last change left it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from adapters.postgres.batch import BatchKeys, SqlBatch
from adapters.postgres.batch_writes import BatchWrites
from adapters.postgres.unit_of_work import SqlUnitOfWork, unit_of_work_factory
from domain.commands import Command, RevokeAccess, ShareDocument, UploadDocument
from domain.model import Document, DocumentContent
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, execute
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import (
    org_with_folder,
    record_statements,
    upload_command,
    wait_until_blocked,
)

pytestmark = pytest.mark.integration

ODD_TAGS = ("a,b", 'say "hi"', "{braces}", "back\\slash", "ünï", "NULL", "")
MOMENT = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def _document(org_id: str, folder_id: str, doc_id: str, tags: tuple[str, ...]) -> Document:
    content = DocumentContent(f"{doc_id}.pdf", "application/pdf", f"s3://b/{doc_id}", tags)
    return Document.first_version(
        doc_id=doc_id, org_id=org_id, folder_id=folder_id, owner_id="alice", content=content, now=MOMENT
    )


def _send_and_commit(engine: Engine, writes: BatchWrites, heard: list[set[str]] | None = None) -> None:
    on_committed = None if heard is None else (lambda folders, _documents: heard.append(folders))
    with SqlUnitOfWork(engine, None, on_committed) as transaction:
        writes.send(transaction)
        transaction.commit()


def _stored(engine: Engine, doc_id: str) -> tuple[Document | None, dict[str, Role]]:
    with unit_of_work_factory(engine)(None) as uow:
        document = uow.documents.get(doc_id)
        roles = {
            user: role for user in ("alice", "bob", "carol") if (role := uow.policies.role_of(doc_id, user))
        }
    return document, roles


def test_documents_created_together_read_back_as_written(engine: Engine, new_id: IdMaker) -> None:
    org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
    plain = _document(org_id, folder_id, new_id("doc"), ("finance",))
    odd = _document(org_id, folder_id, new_id("doc"), ODD_TAGS)
    untagged = _document(org_id, folder_id, new_id("doc"), ())
    content = DocumentContent("v2.pdf", "text/plain", "s3://b/v2", ("two",))
    second = untagged.next_version(content=content, uploaded_by="bob", now=MOMENT.replace(microsecond=7))
    writes, heard = BatchWrites(), list[set[str]]()
    for document in (plain, odd, untagged, second):  # the second version replaces the first
        writes.save_document(document)

    _send_and_commit(engine, writes, heard)

    assert [_stored(engine, document.id)[0] for document in (plain, odd, second)] == [plain, odd, second]
    assert heard == [{folder_id}]


def test_roles_changed_together_end_as_each_ones_last_change(engine: Engine, new_id: IdMaker) -> None:
    org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
    first, second = (_document(org_id, folder_id, new_id("doc"), ()) for _ in range(2))
    before = BatchWrites()
    for document in (first, second):
        before.save_document(document)
        before.change_role(document, "alice", Role.OWNER)
        before.change_role(document, "carol", Role.VIEWER)
    _send_and_commit(engine, before)

    writes = BatchWrites()
    writes.change_role(first, "bob", Role.EDITOR)
    writes.change_role(first, "bob", Role.OWNER)
    writes.change_role(second, "bob", Role.VIEWER)
    writes.change_role(second, "bob", None)  # given, then taken back: never stored
    writes.change_role(first, "carol", None)
    writes.change_role(second, "carol", None)
    _send_and_commit(engine, writes)

    assert _stored(engine, first.id)[1] == {"alice": Role.OWNER, "bob": Role.OWNER}
    assert _stored(engine, second.id)[1] == {"alice": Role.OWNER}


def test_a_batch_sends_its_writes_in_one_statement_and_decides_as_one_by_one(
    engine: Engine, new_id: IdMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    together, alone = (_many_documents(engine, new_id) for _ in range(2))
    alone_results = [_run(unit_of_work_factory(engine), message) for message in alone]
    statements = record_statements(monkeypatch)

    with SqlBatch(engine, BatchKeys.of(together)) as batch:
        together_results = [_run(batch.new_uow, message) for message in together]
        batch.commit()

    assert together_results == alone_results == [Outcome.APPLIED] * len(together)
    # after the reads, sent up front (not recorded here), every write goes in one statement with the commit,
    # after the settings of its plans (test_postgres_write_plans.py)
    assert statements == [("send", "SELECT set_config"), ("send", "WITH documents AS"), ("commit", "")]
    roles = [
        _stored(engine, upload.doc_id)[1] for _, upload in together[:3] if isinstance(upload, UploadDocument)
    ]
    assert roles == [{"alice": Role.OWNER, "bob": Role.EDITOR}] + [{"alice": Role.OWNER}] * 2
    assert roles == [
        _stored(engine, upload.doc_id)[1] for _, upload in alone[:3] if isinstance(upload, UploadDocument)
    ]


def test_a_batch_reads_the_policies_its_documents_have_once_it_holds_their_locks(
    engine: Engine, new_id: IdMaker
) -> None:
    """Two owners revoking each other at once, one of them in a batch, must not leave no owner."""
    org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
    document = _document(org_id, folder_id, new_id("doc"), ())
    writes = BatchWrites()
    writes.save_document(document)
    for owner in ("alice", "bob"):
        writes.change_role(document, owner, Role.OWNER)
    _send_and_commit(engine, writes)
    alice_revokes_bob = (new_id("msg"), RevokeAccess(doc_id=document.id, revoked_by="alice", user_id="bob"))

    with ThreadPoolExecutor(1) as pool, SqlUnitOfWork(engine, None) as bob_revokes_alice:
        assert bob_revokes_alice.documents.get(document.id) == document  # locked until it commits
        batch = pool.submit(_run_in_a_batch, engine, alice_revokes_bob)
        wait_until_blocked(engine, "SELECT id, org_id, folder_id")
        bob_revokes_alice.policies.remove(document, "alice")
        bob_revokes_alice.commit()
        assert batch.result(timeout=10) is Outcome.REFUSED  # alice is no longer an owner

    assert _stored(engine, document.id)[1] == {"bob": Role.OWNER}


def _run_in_a_batch(engine: Engine, message: tuple[str, Command]) -> Outcome:
    with SqlBatch(engine, BatchKeys.of([message])) as batch:
        outcome = _run(batch.new_uow, message)
        batch.commit()
    return outcome


def _many_documents(engine: Engine, new_id: IdMaker) -> list[tuple[str, Command]]:
    """Three uploads by alice, each shared with bob twice; then two of the shares revoked."""
    org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
    uploads = [upload_command(org_id, folder_id, new_id("doc")) for _ in range(3)]
    shares: list[Command] = [
        ShareDocument(doc_id=upload.doc_id, shared_by="alice", shared_with="bob", role=role)
        for role in (Role.VIEWER, Role.EDITOR)
        for upload in uploads
    ]
    revokes = [
        RevokeAccess(doc_id=upload.doc_id, revoked_by="alice", user_id="bob") for upload in uploads[1:]
    ]
    return [(new_id("msg"), command) for command in (*uploads, *shares, *revokes)]


def _run(new_uow: object, message: tuple[str, Command]) -> Outcome:
    message_id, command = message
    return execute(command, message_id=message_id, actor="t", new_uow=new_uow)  # type: ignore[arg-type]


def test_batches_inserting_the_same_new_documents_in_opposite_orders_do_not_deadlock(
    engine: Engine, new_id: IdMaker
) -> None:
    """Two batches may create the same documents (uploads sent twice under new ids, here into other
    folders, so that no folder's row lines the batches up): one commits, the other meets its rows, and
    neither holds a row the other waits for. Which batch wakes first is a race, so it runs five times."""
    outcomes = [_create_in_opposite_orders(engine, new_id) for _ in range(5)]

    assert outcomes == [["NoneType", "StaleDocumentVersion"]] * 5


def _create_in_opposite_orders(engine: Engine, new_id: IdMaker) -> list[str]:
    """A third transaction holding the lowest id lines the two batches up behind it, then lets them go."""
    low_id, high_id = sorted(new_id("doc") for _ in range(2))
    batches = []
    for doc_ids in ((low_id, high_id), (high_id, low_id)):
        org_id, folder_id = org_with_folder(unit_of_work_factory(engine), new_id)
        writes = BatchWrites()
        for doc_id in doc_ids:
            writes.save_document(_document(org_id, folder_id, doc_id, ()))
        batches.append(writes)
    low = _document(*org_with_folder(unit_of_work_factory(engine), new_id), low_id, ())

    with ThreadPoolExecutor(2) as pool, SqlUnitOfWork(engine, None) as holding_low:
        holding_low.documents.save(low)
        holding_low.documents.get(low_id)  # the insert has run: its row is locked until this ends
        ascending = pool.submit(_send_and_commit, engine, batches[0])
        wait_until_blocked(engine, "WITH documents AS")
        descending = pool.submit(_send_and_commit, engine, batches[1])
        wait_until_blocked(engine, "WITH documents AS", sessions=2)
        holding_low.rollback()
        return sorted(type(future.exception(timeout=10)).__name__ for future in (ascending, descending))
