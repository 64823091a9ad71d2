"""Each migration that changes the schema, up and down: what it removes is gone, and comes back."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterable, Mapping

import psycopg
import pytest
from alembic import command
from sqlalchemy.engine.reflection import Inspector

from adapters.postgres.engine import libpq_conninfo
from adapters.postgres.migrations import alembic_config
from tests.support.migrations import alembic, names_in
from tests.support.services import throwaway_database

pytestmark = pytest.mark.integration

Reader = Callable[[Inspector], Iterable[Mapping[str, object]]]
Writer = Callable[[psycopg.Connection[tuple[object, ...]]], None]


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


def _nothing(_: psycopg.Connection[tuple[object, ...]]) -> None:
    pass


def _a_deep_folder(connection: psycopg.Connection[tuple[object, ...]]) -> None:
    """A folder 150 deep with UUID ids, as 0007 made possible: its path, about 5 kB of ids that do not
    compress, is over what a btree index row may hold (about 2.7 kB)."""
    path = "/" + "".join(f"{uuid.uuid4().hex}/" for _ in range(150))
    connection.execute("INSERT INTO organizations (id) VALUES ('acme')")
    connection.execute(
        "INSERT INTO folders (id, org_id, parent_id, name, path, created_by, created_at)"
        " VALUES ('deep', 'acme', NULL, 'deep', %s, 'alice', now())",
        (path,),
    )


@pytest.mark.parametrize(
    ("revision", "previous", "read", "before", "after", "write"),
    [
        # documents lose their direct key to organizations: their folder's key implies it
        (
            "0003",
            "0002",
            _document_keys,
            {"fk_documents_org", "fk_documents_folder_same_org"},
            {"fk_documents_folder_same_org"},
            _nothing,
        ),
        # the policies lose their index by user, which no query read
        ("0004", "0003", _policy_indexes, {"ix_access_policies_user"}, set(), _nothing),
        # a batch finds its users' memberships by user
        ("0005", "0004", _membership_indexes, set(), {"ix_memberships_user"}, _nothing),
        # dead letters' rejections are found by message id
        (
            "0006",
            "0005",
            _outbox_indexes,
            {"ix_outbox_unpublished", "uq_outbox_event_id"},
            {"ix_outbox_unpublished", "uq_outbox_event_id", "ix_outbox_rejected_message_id"},
            _nothing,
        ),
        # folders lose their index by path, which no query read and which refused deep folders; the
        # downgrade brings it back over the paths short enough for it, with a deep folder already there
        (
            "0007",
            "0006",
            _folder_indexes,
            {"ix_folders_path", "uq_folders_sibling_name", "uq_folders_id_org"},
            {"uq_folders_sibling_name", "uq_folders_id_org"},
            _a_deep_folder,
        ),
    ],
)
def test_a_migration_changes_what_it_says_and_its_downgrade_restores_it(
    database_url: str,
    revision: str,
    previous: str,
    read: Reader,
    before: set[str],
    after: set[str],
    write: Writer,
) -> None:
    """``write`` puts in, once the migration ran, rows its downgrade must still work with."""
    with throwaway_database(database_url) as url:
        alembic(url, "upgrade", previous)
        found_before = names_in(url, read)
        alembic(url, "upgrade", revision)
        found_after = names_in(url, read)
        with psycopg.connect(libpq_conninfo(url)) as connection:
            write(connection)
        alembic(url, "downgrade", previous)
        restored = names_in(url, read)
    assert found_before == before
    assert found_after == after
    assert restored == before


def test_the_migrations_print_their_sql_for_a_database_they_cannot_reach() -> None:
    """Alembic's offline mode (``alembic upgrade head --sql``), which env.py offers: no connection, so
    0008 cannot look for colliding siblings, and leaves that to the database that runs the SQL."""
    printed = io.StringIO()
    config = alembic_config()
    config.output_buffer = printed
    command.upgrade(config, "head", sql=True)

    sql = printed.getvalue()
    assert "CREATE UNIQUE INDEX uq_folders_sibling_name_nfc ON folders" in sql
    assert "UPDATE alembic_version SET version_num='0010'" in sql
