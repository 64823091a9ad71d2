"""Who may do what, through the worker wired to the real Postgres and Valkey (on a StubBroker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import IdMaker
from tests.integration.authorization_support import (
    Scene,
    denials,
    events_about,
    is_cached,
    rejection_of,
    roles_on,
    run,
    share,
    upload,
)
from tests.workers.support import Fleet, wired_fleet, wired_settings
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(database_url: str, valkey_url: str, key_prefix: str) -> Settings:
    return wired_settings(database_url, valkey_url, key_prefix)


@pytest.fixture
def fleet(settings: Settings) -> Iterator[Fleet]:
    with wired_fleet(settings, threads=2) as fleet:
        yield fleet


@pytest.fixture
def scene(fleet: Fleet, new_id: IdMaker) -> Scene:
    scene = Scene(*(new_id(kind) for kind in ("org", "folder", "doc", "alice", "bob", "carol", "mallory")))
    run(fleet, "add_member", org_id=new_id("other-org"), user_id=scene.mallory)
    for user in (scene.alice, scene.bob, scene.carol):
        run(fleet, "add_member", org_id=scene.org, user_id=user)
    run(
        fleet,
        "create_folder",
        folder_id=scene.folder,
        org_id=scene.org,
        name="Reports",
        created_by=scene.alice,
    )
    run(fleet, "upload_document", **upload(scene, owner=scene.alice))
    return scene


@pytest.mark.parametrize("held", ["viewer", "editor"])
@pytest.mark.parametrize("granted", ["viewer", "editor", "owner"])
def test_viewers_and_editors_cannot_share_not_even_with_themselves(
    fleet: Fleet, engine: Engine, scene: Scene, held: str, granted: str
) -> None:
    share(fleet, scene, scene.alice, scene.bob, held)
    share(fleet, scene, scene.bob, scene.carol, granted)
    share(fleet, scene, scene.bob, scene.bob, "owner")

    assert roles_on(engine, scene.doc) == {scene.alice: "owner", scene.bob: held}
    assert denials(engine, scene) == [
        (scene.bob, scene.carol, granted, "permission_denied"),
        (scene.bob, scene.bob, "owner", "permission_denied"),
    ]


def test_a_sharee_outside_the_documents_organization_is_refused_with_share_denied(
    fleet: Fleet, engine: Engine, scene: Scene
) -> None:
    share(fleet, scene, scene.alice, scene.mallory, "viewer")

    assert scene.mallory not in roles_on(engine, scene.doc)
    assert denials(engine, scene) == [(scene.alice, scene.mallory, "viewer", "not_a_member")]


def test_a_non_member_can_neither_upload_into_nor_list_a_folder(
    fleet: Fleet, engine: Engine, scene: Scene, new_id: IdMaker
) -> None:
    intruder_doc = new_id("doc")
    message_id = run(fleet, "upload_document", **upload(scene, owner=scene.mallory, doc=intruder_doc))

    assert rejection_of(engine, message_id)["reason"] == "not_a_member"
    assert events_about(engine, intruder_doc, "DocumentUploaded") == []
    listed = fleet.result(fleet.send("list_folder", folder_id=scene.folder, requested_by=scene.mallory))
    assert (listed["documents"], listed["error"]["reason"]) == ([], "not_a_member")


def test_the_last_owner_cannot_be_revoked(fleet: Fleet, engine: Engine, scene: Scene) -> None:
    message_id = run(fleet, "revoke_access", doc_id=scene.doc, revoked_by=scene.alice, user_id=scene.alice)

    assert rejection_of(engine, message_id)["reason"] == "last_owner"
    assert roles_on(engine, scene.doc) == {scene.alice: "owner"}


def test_a_revoked_owner_cannot_share_again(fleet: Fleet, engine: Engine, scene: Scene) -> None:
    share(fleet, scene, scene.alice, scene.bob, "owner")
    run(fleet, "revoke_access", doc_id=scene.doc, revoked_by=scene.alice, user_id=scene.bob)
    share(fleet, scene, scene.bob, scene.carol, "viewer")
    share(fleet, scene, scene.bob, scene.bob, "owner")

    assert roles_on(engine, scene.doc) == {scene.alice: "owner"}
    assert [denial[3] for denial in denials(engine, scene)] == ["permission_denied", "permission_denied"]


def test_replaying_an_old_share_message_after_a_revoke_does_not_restore_access(
    fleet: Fleet, engine: Engine, scene: Scene
) -> None:
    old_share = fleet.message(
        "share_document", doc_id=scene.doc, shared_by=scene.alice, shared_with=scene.bob, role="editor"
    )
    fleet.broker.enqueue(old_share)
    fleet.settle()
    run(fleet, "revoke_access", doc_id=scene.doc, revoked_by=scene.alice, user_id=scene.bob)

    fleet.broker.enqueue(old_share)
    fleet.settle()

    assert roles_on(engine, scene.doc) == {scene.alice: "owner"}
    assert len(events_about(engine, scene.doc, "DocumentShared")) == 1


def test_a_listing_from_the_cache_is_refused_to_a_non_member_as_one_from_the_database(
    fleet: Fleet, scene: Scene, settings: Settings
) -> None:
    def listed(user: str) -> dict[str, Any]:
        return dict(fleet.result(fleet.send("list_folder", folder_id=scene.folder, requested_by=user)))

    cold = listed(scene.mallory)
    assert [document["id"] for document in listed(scene.alice)["documents"]] == [scene.doc]
    assert is_cached(settings, scene.folder)
    warm = listed(scene.mallory)
    from_cache_without_a_role = listed(scene.bob)

    assert cold == warm == {"documents": [], "next_cursor": None, "error": warm["error"]}
    assert warm["error"]["reason"] == "not_a_member"
    assert from_cache_without_a_role == {"documents": [], "next_cursor": None}
