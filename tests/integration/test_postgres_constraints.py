"""The rules the schema itself enforces, whatever code writes to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, Table
from sqlalchemy.exc import IntegrityError

from adapters.postgres.tables import access_policies, documents, folders, memberships, organizations
from tests.conftest import IdMaker

pytestmark = pytest.mark.integration

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _insert(engine: Engine, table: Table, **values: Any) -> None:
    with engine.begin() as connection:
        connection.execute(table.insert().values(**values))


def _org_with_folder(engine: Engine, new_id: IdMaker, parent_id: str | None = None) -> tuple[str, str]:
    org_id, folder_id = new_id("org"), new_id("folder")
    _insert(engine, organizations, id=org_id)
    _folder(engine, folder_id, org_id, "Reports", parent_id)
    return org_id, folder_id


def _folder(engine: Engine, folder_id: str, org_id: str, name: str, parent_id: str | None) -> None:
    _insert(
        engine,
        folders,
        id=folder_id,
        org_id=org_id,
        parent_id=parent_id,
        name=name,
        path=f"/{folder_id}/",
        created_by="u",
        created_at=NOW,
    )


def _document(engine: Engine, doc_id: str, org_id: str, folder_id: str, version: int = 1) -> None:
    _insert(
        engine,
        documents,
        id=doc_id,
        org_id=org_id,
        folder_id=folder_id,
        owner_id="u",
        uploaded_by="u",
        name="a.pdf",
        mime_type="application/pdf",
        version=version,
        blob_uri="s3://b/a",
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_document_cannot_sit_in_a_folder_of_another_organization(engine: Engine, new_id: IdMaker) -> None:
    _, folder_of_a = _org_with_folder(engine, new_id)
    org_b, _ = _org_with_folder(engine, new_id)
    with pytest.raises(IntegrityError, match="fk_documents_folder_same_org"):
        _document(engine, new_id("doc"), org_b, folder_of_a)


def test_a_document_needs_its_organization_through_its_folder(engine: Engine, new_id: IdMaker) -> None:
    _, folder_id = _org_with_folder(engine, new_id)
    with pytest.raises(IntegrityError, match="fk_documents_folder_same_org"):
        _document(engine, new_id("doc"), new_id("org"), folder_id)


def test_an_organization_holding_documents_cannot_be_deleted(engine: Engine, new_id: IdMaker) -> None:
    org_id, folder_id = _org_with_folder(engine, new_id)
    _document(engine, new_id("doc"), org_id, folder_id)
    with pytest.raises(IntegrityError, match="fk_folders_org"), engine.begin() as connection:
        connection.execute(organizations.delete().where(organizations.c.id == org_id))


def test_a_folder_cannot_have_a_parent_in_another_organization(engine: Engine, new_id: IdMaker) -> None:
    _, folder_of_a = _org_with_folder(engine, new_id)
    org_b, _ = _org_with_folder(engine, new_id)
    with pytest.raises(IntegrityError, match="fk_folders_parent_same_org"):
        _folder(engine, new_id("folder"), org_b, "Child", folder_of_a)


def test_a_membership_needs_its_organization(engine: Engine, new_id: IdMaker) -> None:
    with pytest.raises(IntegrityError, match="fk_memberships_org"):
        _insert(engine, memberships, org_id=new_id("org"), user_id="u")


def test_two_roots_of_one_organization_cannot_share_a_name(engine: Engine, new_id: IdMaker) -> None:
    org_id, _ = _org_with_folder(engine, new_id)
    with pytest.raises(IntegrityError, match="uq_folders_sibling_name"):
        _folder(engine, new_id("folder"), org_id, "Reports", None)


def test_sibling_names_are_unique_per_parent_and_organization(engine: Engine, new_id: IdMaker) -> None:
    org_id, root = _org_with_folder(engine, new_id)
    _org_with_folder(engine, new_id)  # another organization's root is named "Reports" too
    archive = new_id("folder")
    _folder(engine, archive, org_id, "Archive", None)
    _folder(engine, new_id("folder"), org_id, "2024", root)
    _folder(engine, new_id("folder"), org_id, "2024", archive)
    with pytest.raises(IntegrityError, match="uq_folders_sibling_name"):
        _folder(engine, new_id("folder"), org_id, "2024", root)


def test_sibling_names_are_unique_once_composed(engine: Engine, new_id: IdMaker) -> None:
    org_id, _ = _org_with_folder(engine, new_id)
    _folder(engine, new_id("folder"), org_id, "R\u00e9sum\u00e9s", None)
    _folder(engine, new_id("folder"), org_id, "r\u00e9sum\u00e9s", None)  # case is not folded
    with pytest.raises(IntegrityError, match="uq_folders_sibling_name"):
        _folder(engine, new_id("folder"), org_id, "Re\u0301sume\u0301s", None)


def test_a_policy_is_unique_per_document_and_user(engine: Engine, new_id: IdMaker) -> None:
    org_id, folder_id = _org_with_folder(engine, new_id)
    doc_id = new_id("doc")
    _document(engine, doc_id, org_id, folder_id)
    _insert(engine, access_policies, document_id=doc_id, user_id="u", role="owner")
    with pytest.raises(IntegrityError, match="pk_access_policies"):
        _insert(engine, access_policies, document_id=doc_id, user_id="u", role="viewer")


def test_a_policy_holds_a_known_role_on_an_existing_document(engine: Engine, new_id: IdMaker) -> None:
    org_id, folder_id = _org_with_folder(engine, new_id)
    doc_id = new_id("doc")
    _document(engine, doc_id, org_id, folder_id)
    with pytest.raises(IntegrityError, match="ck_access_policies_role"):
        _insert(engine, access_policies, document_id=doc_id, user_id="u", role="admin")
    with pytest.raises(IntegrityError, match="fk_access_policies_document"):
        _insert(engine, access_policies, document_id=new_id("doc"), user_id="u", role="viewer")


def test_a_document_version_is_positive(engine: Engine, new_id: IdMaker) -> None:
    org_id, folder_id = _org_with_folder(engine, new_id)
    with pytest.raises(IntegrityError, match="ck_documents_version_positive"):
        _document(engine, new_id("doc"), org_id, folder_id, version=0)
