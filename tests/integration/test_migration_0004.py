"""Migration 0004 up and down: the policies lose their index by user, and get it back."""

from __future__ import annotations

import pytest

from tests.support.migrations import alembic, names_in
from tests.support.services import throwaway_database

pytestmark = pytest.mark.integration


def _policy_indexes(url: str) -> set[str]:
    return names_in(url, lambda inspector: inspector.get_indexes("access_policies"))


def test_migration_0004_drops_the_index_by_user_and_its_downgrade_restores_it(database_url: str) -> None:
    with throwaway_database(database_url) as url:
        alembic(url, "upgrade", "0003")
        before = _policy_indexes(url)
        alembic(url, "upgrade", "0004")
        after = _policy_indexes(url)
        alembic(url, "downgrade", "0003")
        restored = _policy_indexes(url)
    assert before == {"ix_access_policies_user"}
    assert after == set()
    assert restored == before
