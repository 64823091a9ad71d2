"""The fakes keep the ports' promises, or the use-case tests built on them would prove nothing."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import pytest

from domain.commands import RevokeAccess
from domain.errors import AlreadyApplied
from domain.events import MemberAdded
from domain.listing import FolderListing
from domain.ports import ListingCache, UnitOfWork, UnitOfWorkFactory
from domain.roles import Role
from domain.use_cases.dispatch import Outcome, execute
from tests.unit.fakes import FOLDER, ORG, FakeDatabase, FakeListingCache


def test_the_fakes_satisfy_the_ports() -> None:
    db = FakeDatabase()
    uow: UnitOfWork = db.uow()
    factory: UnitOfWorkFactory = db.uow_factory()
    cache: ListingCache = FakeListingCache()
    for port, fake in ((UnitOfWork, uow), (ListingCache, cache)):
        expected = set(port.__annotations__) | {name for name in vars(port) if not name.startswith("_")}
        assert all(hasattr(fake, name) for name in expected), port
    assert isinstance(factory("m1"), type(uow))


def test_writes_reach_the_database_only_on_commit() -> None:
    db = FakeDatabase()
    with db.uow() as uow:
        uow.members.add(ORG, "alice")
        assert uow.members.contains(ORG, "alice")
        assert "alice" not in db.members.get(ORG, set())
        uow.commit()
    assert "alice" in db.members[ORG]
    assert uow.committed


def test_leaving_without_commit_discards_writes_and_events() -> None:
    db = FakeDatabase()
    with db.uow("m1") as uow:
        uow.members.add(ORG, "alice")
        uow.record(MemberAdded(org_id=ORG, user_id="alice"))
    assert db.members == {}
    assert db.events == []
    assert uow.recorded == []
    assert not uow.committed
    assert "m1" not in db.applied_message_ids


def _add_alice_then_fail(db: FakeDatabase) -> None:
    with db.uow() as uow:
        uow.members.add(ORG, "alice")
        raise ZeroDivisionError


def test_an_exception_rolls_back() -> None:
    db = FakeDatabase()
    with pytest.raises(ZeroDivisionError):
        _add_alice_then_fail(db)
    assert db.members == {}


def test_commit_records_the_events_and_the_message_id() -> None:
    db = FakeDatabase()
    event = MemberAdded(org_id=ORG, user_id="alice")
    with db.uow("m1") as uow:
        uow.record(event)
        uow.commit()
    named = dataclasses.replace(event, message_id="m1")  # as the Postgres units of work name it
    assert db.events == [named]
    assert uow.recorded == [named]
    assert "m1" in db.applied_message_ids


def test_a_unit_of_work_for_an_applied_message_refuses_to_open() -> None:
    db = FakeDatabase().with_applied("m1")
    with pytest.raises(AlreadyApplied) as raised, db.uow("m1"):
        pytest.fail("the block must not run")
    assert raised.value.message_id == "m1"


def test_using_a_unit_of_work_outside_with_is_an_error() -> None:
    uow = FakeDatabase().uow()
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        uow.members.contains(ORG, "alice")


def test_committing_a_policy_change_bumps_only_that_folders_listing_version() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"]).with_folder("other")
    document = db.documents["d1"]
    with db.uow() as uow:
        uow.policies.put(document, "bob", Role.VIEWER)
        assert db.listing_version(FOLDER) == 0
        uow.commit()
    assert db.listing_version(FOLDER) == 1
    assert db.listing_version("other") == 0


def test_a_rolled_back_change_does_not_bump_the_listing_version() -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=["bob"])
    with db.uow() as uow:
        uow.policies.put(db.documents["d1"], "bob", Role.VIEWER)
    assert db.listing_version(FOLDER) == 0


def _listing(version: int) -> FolderListing:
    return FolderListing.newest_first(FOLDER, ORG, version, [])


def test_the_cache_answers_only_for_the_exact_version() -> None:
    cache = FakeListingCache()
    cache.put(_listing(2))
    assert cache.get(FOLDER, 1) is None
    assert cache.get(FOLDER, 3) is None
    assert cache.get(FOLDER, 2) == _listing(2)
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_cache_keeps_the_newer_listing() -> None:
    cache = FakeListingCache()
    cache.put(_listing(3))
    cache.put(_listing(2))
    assert cache.get(FOLDER, 3) is not None
    assert cache.get(FOLDER, 2) is None


def test_units_of_work_that_race_end_as_if_run_in_turn() -> None:
    """Alice and bob own a document, and each revokes the other at once. Postgres makes the second wait
    for the first's lock, and then refuses it as the last owner: so must the fake."""
    db = FakeDatabase().with_document("d1", owner="alice", co_owners=["bob"])
    entered, release = threading.Event(), threading.Event()

    def alice_revokes_bob() -> None:
        with db.uow("m-alice") as uow:
            entered.set()
            release.wait(timeout=10)
            document = uow.documents.get("d1")
            assert document is not None
            uow.policies.remove(document, "bob")
            uow.commit()

    def bob_revokes_alice() -> Outcome:
        command = RevokeAccess(doc_id="d1", revoked_by="bob", user_id="alice")
        return execute(command, message_id="m-bob", actor="revoke_access", new_uow=db.uow_factory())

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(alice_revokes_bob)
        assert entered.wait(timeout=10)
        second = pool.submit(bob_revokes_alice)
        wait([second], timeout=0.5)  # time for bob's to end first, were nothing to stop it
        release.set()
        first.result(timeout=10)
        outcome = second.result(timeout=10)

    assert outcome is Outcome.REFUSED
    assert db.owners_of("d1") == {"alice"}
