"""The schema: built by the migrations alone, and equal to the tables the adapter queries."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from adapters.postgres.engine import PSYCOPG_DRIVER, create_engine, normalize_url
from adapters.postgres.migrations import ForeignRevision, UnknownRevision, is_at_head, upgrade_to_head
from adapters.postgres.tables import metadata
from tests.support.services import throwaway_database

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "url", ["postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db", "postgres://u@h/db"]
)
def test_urls_are_normalized_to_psycopg_3(url: str) -> None:
    assert normalize_url(url).drivername == PSYCOPG_DRIVER
    assert create_engine(url).url.drivername == PSYCOPG_DRIVER


@pytest.mark.parametrize("url", ["postgresql+psycopg2://u@h/db", "mysql://u@h/db", "sqlite://"])
def test_other_drivers_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="postgresql"):
        normalize_url(url)


def test_the_migrations_build_the_schema_the_tables_describe(engine: Engine, database_url: str) -> None:
    assert is_at_head(database_url)
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= set(metadata.tables) | {"alembic_version"}
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": True, "include_object": _compared},
        )
        assert compare_metadata(context, metadata) == []


def _compared(item: object, name: str | None, kind: str, reflected: bool, compared_to: object) -> bool:
    """All but the listing index, whose id column's collation (COLLATE "C") SQLAlchemy's reflection
    does not read: the next test compares its whole definition, as Postgres prints it back."""
    return not (kind == "index" and name == "ix_documents_listing")


def test_the_partial_indexes_keep_their_conditions(engine: Engine) -> None:
    """Alembic's comparison above does not look at an index's WHERE: every partial index's is here."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = 'public' AND indexdef LIKE '% WHERE %'"
            )
        ).all()
    conditions = {name: definition.partition(" WHERE ")[2] for name, definition in rows}
    assert conditions == {
        "ix_outbox_unpublished": "(published_at IS NULL)",
        "ix_outbox_rejected_message_id": "(type = 'CommandRejected'::text)",
    }


_CONSTRAINTS = (
    "SELECT conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'alembic_version'"
)
_INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
)


def _catalog(engine: Engine) -> dict[str, str]:
    """Every constraint's and index's definition, as Postgres prints them back."""
    with engine.connect() as connection:
        return dict(connection.execute(text(_CONSTRAINTS)).all()) | dict(
            connection.execute(text(_INDEXES)).all()
        )


def test_every_constraint_and_index_is_as_the_tables_declare_them(engine: Engine, database_url: str) -> None:
    """What Alembic's comparison leaves out: CHECK constraints, and indexes' expressions and conditions.
    The tables, created directly in a database of their own, are printed back by Postgres the same way."""
    with throwaway_database(database_url) as declared_url:
        declared = create_engine(declared_url)
        try:
            metadata.create_all(declared)
            expected = _catalog(declared)
        finally:
            declared.dispose()
    assert _catalog(engine) == expected


def test_a_fresh_database_reaches_head_once_and_stays_there(database_url: str) -> None:
    with throwaway_database(database_url) as fresh:
        assert not is_at_head(fresh)
        upgrade_to_head(fresh)
        upgrade_to_head(fresh)
        assert is_at_head(fresh)


def test_a_database_a_newer_version_migrated_is_told_so_and_left_unchanged(database_url: str) -> None:
    with throwaway_database(database_url) as fresh:
        upgrade_to_head(fresh)
        engine = create_engine(fresh)
        try:
            with engine.begin() as connection:
                connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
            with pytest.raises(
                UnknownRevision, match="9999_from_the_future, which this version does not know"
            ):
                is_at_head(fresh)
            with pytest.raises(UnknownRevision):
                upgrade_to_head(fresh)
            with engine.connect() as connection:
                version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        finally:
            engine.dispose()
    assert version == "9999_from_the_future"


_UPGRADE_ON_GO = """
import sys
from adapters.postgres.migrations import upgrade_to_head
print("ready", flush=True)
sys.stdin.readline()
upgrade_to_head(sys.argv[1])
"""


def test_workers_starting_at_once_upgrade_in_turn(database_url: str) -> None:
    """Processes, as workers are, started together once all are ready."""
    with throwaway_database(database_url) as fresh:
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _UPGRADE_ON_GO, fresh],
                cwd=REPO_ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        try:
            for worker in workers:
                assert worker.stdout is not None
                assert worker.stdout.readline() == "ready\n"
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            errors = [worker.communicate(timeout=60)[1] for worker in workers]
        finally:
            for worker in workers:
                worker.kill()
        assert [worker.returncode for worker in workers] == [0, 0, 0], errors
        assert is_at_head(fresh)


def test_migrating_leaves_the_application_logging_alone(database_url: str) -> None:
    app_logger = logging.getLogger("docfleet.migration_test")
    root_handlers = list(logging.getLogger().handlers)
    with throwaway_database(database_url) as fresh:
        upgrade_to_head(fresh)
    assert not app_logger.disabled
    assert logging.getLogger().handlers == root_handlers


def test_another_applications_revision_without_docfleets_tables_is_no_schema_ahead(database_url: str) -> None:
    """Not a newer docfleet's schema, which the workers would run on: they refuse it, as migrate does."""
    with throwaway_database(database_url) as fresh:
        engine = create_engine(fresh)
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
                connection.execute(text("INSERT INTO alembic_version VALUES ('ae1027a6acf')"))
            assert not is_at_head(fresh)
            with pytest.raises(ForeignRevision, match="ae1027a6acf, and it holds none of docfleet's tables"):
                upgrade_to_head(fresh)
            with engine.connect() as connection:
                tables = connection.execute(text("SELECT to_regclass('folders')")).scalar_one()
        finally:
            engine.dispose()
    assert tables is None
