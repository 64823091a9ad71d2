"""Units of work running at once, each on its own thread and connection, as a worker's threads run them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from adapters.postgres.unit_of_work import SqlUnitOfWork, unit_of_work_factory
from domain.commands import RevokeAccess
from domain.errors import AlreadyApplied, PermissionDenied
from domain.ports import UnitOfWorkFactory
from domain.roles import Role
from domain.use_cases.dispatch import Outcome
from domain.use_cases.revoke_access import revoke_access
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import (
    first_version,
    inbox_has,
    org_with_folder,
    run,
    seed_folder,
    upload_command,
    wait_until_blocked,
    wait_until_run,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def new_uow(engine: Engine) -> UnitOfWorkFactory:
    return unit_of_work_factory(engine)


def _apply(engine: Engine, message_id: str) -> str:
    with SqlUnitOfWork(engine, message_id) as uow:
        uow.commit()
    return "applied"


@pytest.mark.parametrize(("first_commits", "second_outcome"), [(True, "duplicate"), (False, "applied")])
def test_a_concurrent_duplicate_waits_for_the_first_delivery(
    engine: Engine, new_id: IdMaker, first_commits: bool, second_outcome: str
) -> None:
    message_id = new_id("msg")
    with ThreadPoolExecutor(1) as pool, SqlUnitOfWork(engine, message_id) as first:
        wait_until_run(first)  # its claim, sent on entry
        second = pool.submit(_apply, engine, message_id)
        wait_until_blocked(engine, "INSERT INTO inbox")
        assert not second.done()
        if first_commits:
            first.commit()
        else:
            first.rollback()
        try:
            outcome = second.result(timeout=10)
        except AlreadyApplied:
            outcome = "duplicate"
    assert outcome == second_outcome
    assert inbox_has(engine, message_id)


def test_units_of_work_on_one_document_run_one_after_the_other(engine: Engine, new_id: IdMaker) -> None:
    """Two owners revoking each other at once must not leave the document without an owner."""
    folder = seed_folder(engine, new_id)
    document = first_version(new_id, folder)
    with SqlUnitOfWork(engine, None) as uow:
        uow.documents.save(document)
        uow.policies.put(document, "alice", Role.OWNER)
        uow.policies.put(document, "bob", Role.OWNER)
        uow.commit()
    alice_revokes_bob = RevokeAccess(doc_id=document.id, revoked_by="alice", user_id="bob")
    with ThreadPoolExecutor(1) as pool, SqlUnitOfWork(engine, None) as bob_revokes_alice:
        assert bob_revokes_alice.documents.get(document.id) == document
        assert bob_revokes_alice.policies.owners_of(document.id) == {"alice", "bob"}
        concurrent = pool.submit(revoke_access, alice_revokes_bob, SqlUnitOfWork(engine, None))
        wait_until_blocked(engine, "SELECT id, org_id, folder_id")
        bob_revokes_alice.policies.remove(document, "alice")
        bob_revokes_alice.commit()
        with pytest.raises(PermissionDenied):
            concurrent.result(timeout=10)
    with SqlUnitOfWork(engine, None) as uow:
        assert uow.policies.owners_of(document.id) == {"bob"}


def test_threads_upload_into_one_folder_at_once(new_uow: UnitOfWorkFactory, new_id: IdMaker) -> None:
    org_id, folder_id = org_with_folder(new_uow, new_id)
    doc_ids = [new_id("doc") for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(
                lambda d: run(new_uow, new_id, upload_command(org_id, folder_id, d)), doc_ids, timeout=60
            )
        )
    assert outcomes == [Outcome.APPLIED] * 8
    with new_uow(None) as uow:
        folder = uow.folders.get(folder_id)
        assert folder is not None
        assert folder.listing_version == 8
        listing = uow.documents.listing(folder, len(doc_ids))
        assert listing is not None
        assert {entry.document.id for entry in listing.entries} == set(doc_ids)


def test_threads_add_versions_of_one_document_one_after_the_other(
    new_uow: UnitOfWorkFactory, new_id: IdMaker
) -> None:
    org_id, folder_id = org_with_folder(new_uow, new_id)
    doc_id = new_id("doc")
    run(new_uow, new_id, upload_command(org_id, folder_id, doc_id))
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(
            pool.map(
                lambda n: run(new_uow, new_id, upload_command(org_id, folder_id, doc_id, f"v{n}")),
                range(6),
                timeout=60,
            )
        )
    assert outcomes == [Outcome.APPLIED] * 6
    with new_uow(None) as uow:
        document = uow.documents.get(doc_id)
    assert document is not None
    assert document.version == 7
