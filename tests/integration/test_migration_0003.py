"""Migration 0003 up and down: documents lose their direct key to organizations, and get it back."""

from __future__ import annotations

import pytest

from tests.support.migrations import alembic, names_in
from tests.support.services import throwaway_database

pytestmark = pytest.mark.integration


def _document_keys(url: str) -> set[str]:
    return names_in(url, lambda inspector: inspector.get_foreign_keys("documents"))


def test_migration_0003_drops_the_direct_key_and_its_downgrade_restores_it(database_url: str) -> None:
    with throwaway_database(database_url) as url:
        alembic(url, "upgrade", "0002")
        before = _document_keys(url)
        alembic(url, "upgrade", "0003")
        after = _document_keys(url)
        alembic(url, "downgrade", "0002")
        restored = _document_keys(url)
    assert before == {"fk_documents_org", "fk_documents_folder_same_org"}
    assert after == {"fk_documents_folder_same_org"}
    assert restored == before
