"""Migration 0008: sibling folder names unique once composed (NFC), and what it does with siblings that
already collide."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from adapters.postgres.engine import libpq_conninfo
from adapters.postgres.migrations import MigrationRefused
from tests.cli.support import one_line_error, run
from tests.support.migrations import alembic
from tests.support.services import default_settings, throwaway_database

pytestmark = pytest.mark.integration

COMPOSED, DECOMPOSED = "R\u00e9sum\u00e9s", "Re\u0301sume\u0301s"  # "Résumés" both ways

Connection = psycopg.Connection[tuple[object, ...]]


def _add_root(connection: Connection, folder_id: str, name: str) -> None:
    connection.execute(
        "INSERT INTO folders (id, org_id, parent_id, name, path, created_by, created_at)"
        " VALUES (%s, 'acme', NULL, %s, %s, 'alice', now())",
        (folder_id, name, f"/{folder_id}/"),
    )


def _revision(connection: Connection) -> object:
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def test_both_forms_of_a_name_are_one_name_after_it_and_two_again_after_its_downgrade(
    database_url: str,
) -> None:
    with throwaway_database(database_url) as url:
        conninfo = libpq_conninfo(url)
        alembic(url, "upgrade", "0008")
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute("INSERT INTO organizations (id) VALUES ('acme')")
            _add_root(connection, "a", COMPOSED)
            with pytest.raises(psycopg.errors.UniqueViolation, match="uq_folders_sibling_name"):
                _add_root(connection, "b", DECOMPOSED)
        alembic(url, "downgrade", "0007")
        with psycopg.connect(conninfo, autocommit=True) as connection:
            _add_root(connection, "b", DECOMPOSED)
            with pytest.raises(psycopg.errors.UniqueViolation, match="uq_folders_sibling_name"):
                _add_root(connection, "c", COMPOSED)


def test_siblings_that_already_collide_are_named_and_nothing_changes(database_url: str) -> None:
    with throwaway_database(database_url) as url:
        conninfo = libpq_conninfo(url)
        alembic(url, "upgrade", "0007")
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute("INSERT INTO organizations (id) VALUES ('acme')")
            _add_root(connection, "nfc", COMPOSED)
            _add_root(connection, "nfd", DECOMPOSED)
            _add_root(connection, "other", "Other")
        with pytest.raises(
            MigrationRefused, match=r"organization 'acme', root: nfc, nfd\. Rename all but one"
        ):
            alembic(url, "upgrade", "0008")
        migrating = run(dataclasses.replace(default_settings(), database_url=url), "migrate")
        with psycopg.connect(conninfo, autocommit=True) as connection:
            assert _revision(connection) == "0007"
            _add_root(connection, "again", DECOMPOSED.upper())  # the exact-name index is still there
            with pytest.raises(psycopg.errors.UniqueViolation, match="uq_folders_sibling_name"):
                _add_root(connection, "copy", COMPOSED)
    assert migrating.exit_code == 1
    assert "Rename all but one of each group" in one_line_error(migrating)
