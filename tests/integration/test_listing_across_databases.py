"""Two deployments, each on a database or a schema of its own, sharing one Valkey and one key prefix:
neither is ever served the other's listing, though their folders have the same id at the same version."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from adapters.postgres.engine import single_use_engine
from adapters.postgres.identity import database_identity
from adapters.valkey.client import connect
from adapters.valkey.listing_cache import ValkeyListingCache
from domain.commands import AddMember, Command, CreateFolder, ListFolderDocuments, UploadDocument
from domain.use_cases.dispatch import Outcome
from tests.support.services import default_settings, migrated_database, throwaway_database
from workers.bootstrap import Application
from workers.settings import Settings

pytestmark = pytest.mark.integration


@contextmanager
def two_databases() -> Iterator[tuple[str, str]]:
    with migrated_database() as first_url, migrated_database() as second_url:
        yield first_url, second_url


@contextmanager
def two_schemas() -> Iterator[tuple[str, str]]:
    """Two schemas of one database, each migrated (README: ``DATABASE_URL``'s search_path)."""
    from adapters.postgres.migrations import upgrade_to_head

    with throwaway_database(default_settings().database_url) as url:
        with single_use_engine(url) as engine, engine.begin() as connection:
            connection.execute(text("CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b"))
        first, second = (f"{url}?options=-c%20search_path%3D{schema}" for schema in ("tenant_a", "tenant_b"))
        upgrade_to_head(first)
        upgrade_to_head(second)
        yield first, second


@pytest.fixture(params=[two_databases, two_schemas], ids=["two databases", "two schemas of one"])
def two_deployments(
    request: pytest.FixtureRequest, key_prefix: str
) -> Iterator[tuple[Application, Application]]:
    with request.param() as urls:
        base = dataclasses.replace(default_settings(), cache_prefix=key_prefix)
        first, second = (
            Application.from_settings(dataclasses.replace(base, database_url=url), threads=1) for url in urls
        )
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def upload_into_folder(app: Application, doc_id: str) -> None:
    commands: list[Command] = [
        AddMember(org_id="org", user_id="alice"),
        CreateFolder(folder_id="reports", org_id="org", name="Reports", created_by="alice"),
        UploadDocument(
            doc_id=doc_id,
            org_id="org",
            folder_id="reports",
            owner_id="alice",
            name=f"{doc_id}.pdf",
            mime_type="application/pdf",
            blob_uri=f"s3://bucket/{doc_id}.pdf",
            tags=(),
        ),
    ]
    for index, command in enumerate(commands):
        assert app.execute(command, message_id=f"{doc_id}-{index}", actor="test") is Outcome.APPLIED


def listed(app: Application) -> list[str]:
    page = app.list_folder(ListFolderDocuments(folder_id="reports", requested_by="alice"))
    return [document.id for document in page.documents]


def test_a_listing_cached_from_one_deployment_is_not_served_from_another(
    two_deployments: tuple[Application, Application],
) -> None:
    first, second = two_deployments
    upload_into_folder(first, "first-doc")
    upload_into_folder(second, "second-doc")

    assert listed(first) == ["first-doc"]  # now in Valkey, at the folder's version 1
    assert listed(second) == ["second-doc"]
    assert listed(first) == ["first-doc"]


def test_each_database_reads_a_name_of_its_own_and_the_same_one_again() -> None:
    with migrated_database() as first_url, migrated_database() as second_url:
        names = []
        for url in (first_url, second_url, first_url):
            with single_use_engine(url) as engine:
                names.append(database_identity(engine))

    assert names[0] == names[2] != names[1]


def test_an_invalidation_the_database_cannot_be_named_for_is_skipped(key_prefix: str) -> None:
    """Entries are served by version alone: a commit's aftermath goes on without the delete."""
    settings: Settings = default_settings()
    asked = threading.Event()

    def unreachable() -> str:
        asked.set()
        raise OSError("Postgres is down")

    with connect(settings.valkey_url) as client:
        cache = ValkeyListingCache(client, key_prefix, 60, database=unreachable)
        cache.invalidate({"reports"})

    assert asked.is_set()


def test_a_database_replaced_under_a_running_process_is_not_served_the_old_ones_listings(
    key_prefix: str,
) -> None:
    """Dropped and migrated again while a worker process runs: its connections die, the next ones reach
    the new database, and the process then names the new one in its keys and forgets what it kept."""
    with migrated_database() as url:
        settings = dataclasses.replace(default_settings(), cache_prefix=key_prefix, database_url=url)
        running = Application.from_settings(settings, threads=1)
        try:
            upload_into_folder(running, "old-doc")
            assert listed(running) == ["old-doc"]  # kept in memory and in Valkey, at version 1

            recreate(url)
            fresh = Application.from_settings(settings, threads=1)
            try:
                upload_into_folder(fresh, "new-doc")
            finally:
                fresh.close()

            assert listed_once_reconnected(running) == ["new-doc"]
        finally:
            running.close()


def recreate(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from adapters.postgres.engine import libpq_conninfo
    from adapters.postgres.migrations import upgrade_to_head

    name = make_url(url).database
    maintenance = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(libpq_conninfo(maintenance), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    upgrade_to_head(url)


def listed_once_reconnected(app: Application) -> list[str]:
    """The first use of a connection the drop killed fails, as a worker's message would (and be retried)."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    for _ in range(3):
        try:
            return listed(app)
        except (OperationalError, psycopg.OperationalError):
            continue
    return listed(app)


def test_a_database_whose_tables_were_made_again_reads_another_name() -> None:
    """As after ``pg_restore --clean`` into the same database: its folder versions count again from
    what the dump held, so the listings cached before must not be served for them."""
    with migrated_database() as url, single_use_engine(url) as engine:
        before = database_identity(engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE folders_restored (LIKE folders INCLUDING ALL)"))
            connection.execute(text("DROP TABLE folders CASCADE"))
            connection.execute(text("ALTER TABLE folders_restored RENAME TO folders"))
        after = database_identity(engine)

    assert before != after
