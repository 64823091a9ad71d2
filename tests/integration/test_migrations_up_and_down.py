"""Each migration that changes the schema, up and down: what it removes is gone, and comes back."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pytest
from sqlalchemy.engine.reflection import Inspector

from tests.support.migrations import alembic, names_in
from tests.support.services import throwaway_database

pytestmark = pytest.mark.integration

Reader = Callable[[Inspector], Iterable[Mapping[str, object]]]


def _document_keys(inspector: Inspector) -> Iterable[Mapping[str, object]]:
    return inspector.get_foreign_keys("documents")


def _policy_indexes(inspector: Inspector) -> Iterable[Mapping[str, object]]:
    return inspector.get_indexes("access_policies")


def _membership_indexes(inspector: Inspector) -> Iterable[Mapping[str, object]]:
    return inspector.get_indexes("memberships")


def _outbox_indexes(inspector: Inspector) -> Iterable[Mapping[str, object]]:
    return inspector.get_indexes("outbox")


def _folder_indexes(inspector: Inspector) -> Iterable[Mapping[str, object]]:
    return inspector.get_indexes("folders")


@pytest.mark.parametrize(
    ("revision", "previous", "read", "before", "after"),
    [
        # documents lose their direct key to organizations: their folder's key implies it
        (
            "0003",
            "0002",
            _document_keys,
            {"fk_documents_org", "fk_documents_folder_same_org"},
            {"fk_documents_folder_same_org"},
        ),
        # the policies lose their index by user, which no query read
        ("0004", "0003", _policy_indexes, {"ix_access_policies_user"}, set()),
        # a batch finds its users' memberships by user
        ("0005", "0004", _membership_indexes, set(), {"ix_memberships_user"}),
        # dead letters' rejections are found by message id
        (
            "0006",
            "0005",
            _outbox_indexes,
            {"ix_outbox_unpublished", "uq_outbox_event_id"},
            {"ix_outbox_unpublished", "uq_outbox_event_id", "ix_outbox_rejected_message_id"},
        ),
        # folders lose their index by path, which no query read and which refused deep folders
        (
            "0007",
            "0006",
            _folder_indexes,
            {"ix_folders_path", "uq_folders_sibling_name", "uq_folders_id_org"},
            {"uq_folders_sibling_name", "uq_folders_id_org"},
        ),
    ],
)
def test_a_migration_changes_what_it_says_and_its_downgrade_restores_it(
    database_url: str, revision: str, previous: str, read: Reader, before: set[str], after: set[str]
) -> None:
    with throwaway_database(database_url) as url:
        alembic(url, "upgrade", previous)
        found_before = names_in(url, read)
        alembic(url, "upgrade", revision)
        found_after = names_in(url, read)
        alembic(url, "downgrade", previous)
        restored = names_in(url, read)
    assert found_before == before
    assert found_after == after
    assert restored == before
