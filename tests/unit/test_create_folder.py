from __future__ import annotations

import pytest

from domain.commands import CreateFolder
from domain.errors import Conflict, CrossOrganization, FolderNotFound, InvalidRequest, NotAMember
from domain.events import FolderCreated
from domain.use_cases.create_folder import create_folder
from tests.unit.fakes import ORG, OTHER_ORG, FakeClock, FakeDatabase


def _create(
    db: FakeDatabase,
    folder_id: str,
    name: str,
    *,
    parent: str | None = None,
    by: str = "alice",
    org: str = ORG,
) -> None:
    command = CreateFolder(folder_id=folder_id, org_id=org, name=name, created_by=by, parent_id=parent)
    create_folder(command, db.uow(), now=FakeClock())


def _db() -> FakeDatabase:
    return FakeDatabase().with_member("alice")


def test_a_member_creates_a_root_folder() -> None:
    db = _db()
    _create(db, "projects", "Projects")
    folder = db.folders["projects"]
    assert (folder.org_id, folder.name, folder.parent_id) == (ORG, "Projects", None)
    assert folder.created_by == "alice"
    assert folder.created_at.utcoffset() is not None
    [event] = db.events_of(FolderCreated)
    assert (event.org_id, event.folder_id, event.parent_id, event.name) == (ORG, "projects", None, "Projects")


def test_a_subfolder_names_its_parent() -> None:
    db = _db()
    _create(db, "projects", "Projects")
    _create(db, "child", "2024", parent="projects")
    _create(db, "grandchild", "Q1", parent="child")
    assert db.folders["child"].parent_id == "projects"
    assert db.folders["grandchild"].parent_id == "child"


def test_a_non_member_cannot_create_a_folder() -> None:
    db = _db().with_member("mallory", org=OTHER_ORG)
    with pytest.raises(NotAMember):
        _create(db, "projects", "Projects", by="mallory")
    assert db.folders == {}
    assert db.events == []


def test_a_missing_parent_is_folder_not_found() -> None:
    db = _db()
    with pytest.raises(FolderNotFound):
        _create(db, "child", "2024", parent="nowhere")
    assert "child" not in db.folders


def test_a_parent_in_another_organization_is_refused() -> None:
    db = _db().with_folder("theirs", org=OTHER_ORG)
    with pytest.raises(CrossOrganization):
        _create(db, "child", "2024", parent="theirs")
    assert "child" not in db.folders


def test_sibling_folders_cannot_share_a_name() -> None:
    db = _db()
    _create(db, "projects", "Projects")
    _create(db, "a", "2024", parent="projects")
    with pytest.raises(Conflict):
        _create(db, "b", "2024", parent="projects")
    assert "b" not in db.folders


COMPOSED, DECOMPOSED = "R\u00e9sum\u00e9s", "Re\u0301sume\u0301s"  # "Résumés" both ways


def test_a_name_in_another_unicode_form_is_the_same_name() -> None:
    db = _db()
    _create(db, "a", COMPOSED)
    with pytest.raises(Conflict, match="already exists"):
        _create(db, "b", DECOMPOSED)
    assert "b" not in db.folders
    assert db.folders["a"].name == COMPOSED  # kept as sent


def test_case_is_not_folded_in_sibling_names() -> None:
    db = _db()
    _create(db, "a", "Reports")
    _create(db, "b", "reports")
    assert {"a", "b"} <= set(db.folders)


def test_asking_again_in_the_other_unicode_form_is_the_same_request() -> None:
    db = _db()
    _create(db, "a", DECOMPOSED)
    before = db.state()
    _create(db, "a", COMPOSED)
    assert db.state() == before


def test_root_folders_of_one_organization_cannot_share_a_name() -> None:
    db = _db()
    _create(db, "a", "Projects")
    with pytest.raises(Conflict):
        _create(db, "b", "Projects")
    assert "b" not in db.folders


def test_the_same_name_is_allowed_under_different_parents_and_in_other_organizations() -> None:
    db = _db().with_member("bob", org=OTHER_ORG)
    _create(db, "p1", "One")
    _create(db, "p2", "Two")
    _create(db, "a", "2024", parent="p1")
    _create(db, "b", "2024", parent="p2")
    _create(db, "c", "One", by="bob", org=OTHER_ORG)
    assert {"a", "b", "c"} <= set(db.folders)


def test_asking_for_the_same_folder_again_is_a_no_op() -> None:
    db = _db()
    _create(db, "projects", "Projects")
    before = db.state()
    uow = db.uow()
    create_folder(CreateFolder(folder_id="projects", org_id=ORG, name="Projects", created_by="alice"), uow)
    assert uow.committed
    assert db.state() == before
    assert len(db.events_of(FolderCreated)) == 1


def test_a_folder_id_taken_by_a_different_folder_is_a_conflict() -> None:
    db = _db()
    _create(db, "projects", "Projects")
    with pytest.raises(Conflict, match="already taken"):
        _create(db, "projects", "Archive")
    assert db.folders["projects"].name == "Projects"


def test_a_blank_folder_name_is_invalid() -> None:
    with pytest.raises(InvalidRequest):
        _create(_db(), "projects", "   ")


def test_a_folder_id_with_a_slash_is_refused_because_it_would_corrupt_paths() -> None:
    from domain.errors import InvalidRequest
    from domain.model import Folder, utc_now

    with pytest.raises(InvalidRequest, match="cannot contain '/'"):
        Folder.create(folder_id="a/b", org_id="o", name="n", parent=None, created_by="u", now=utc_now())
