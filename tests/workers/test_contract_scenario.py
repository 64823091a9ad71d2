"""Contract §2's example messages, sent in the order it tells, are the scenario it tells."""

from __future__ import annotations

from typing import Any

from domain.events import AccessRevoked, DocumentShared, DocumentUploaded, FolderCreated, MemberAdded
from tests.unit.fakes import FakeDatabase, FakeListingCache
from tests.workers.support import running_fleet
from tests.workers.test_contract_doc import json_examples
from workers.bootstrap import Application


def _first_example_of_each_actor() -> dict[str, dict[str, Any]]:
    examples: dict[str, dict[str, Any]] = {}
    for example in json_examples():
        if "actor_name" in example:
            examples.setdefault(example["actor_name"], example["kwargs"])
    return examples


def test_the_examples_sent_in_order_share_alice_s_document_with_bob_then_revoke_it() -> None:
    kwargs = _first_example_of_each_actor()
    db = FakeDatabase()
    application = Application(
        new_uow=db.uow_factory(), listing_cache=FakeListingCache(), spent_by=db.spent_by
    )
    bob = {**kwargs["add_member"], "user_id": "bob"}  # the one message the examples lack
    commands = [("add_member", kwargs["add_member"]), ("add_member", bob)]
    commands += [(actor, kwargs[actor]) for actor in ("create_folder", "upload_document", "share_document")]
    with running_fleet(application) as fleet:
        for actor, arguments in commands:  # one at a time: each needs the one before
            fleet.send(actor, **arguments)
            fleet.settle()
        listed = fleet.result(fleet.send("list_folder", **kwargs["list_folder"]))
        fleet.send("revoke_access", **kwargs["revoke_access"])
        fleet.settle()
        dead = fleet.dead_letters()

    assert dead == []
    assert [type(event) for event in db.events] == [
        MemberAdded,
        MemberAdded,
        FolderCreated,
        DocumentUploaded,
        DocumentShared,
        AccessRevoked,
    ]
    assert [document["id"] for document in listed["documents"]] == [kwargs["upload_document"]["doc_id"]]
    assert db.role_of(kwargs["upload_document"]["doc_id"], "bob") is None
