"""Two worker processes' Applications on one database and one Valkey: what one commits, the other lists
at once, although both keep decoded listings in memory and only the committer invalidates."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from domain.commands import AddMember, Command, CreateFolder, ListFolderDocuments, ShareDocument
from domain.roles import Role
from domain.use_cases.dispatch import Outcome
from tests.integration.test_postgres_support import upload_command
from workers.bootstrap import Application
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def processes(
    database_url: str, valkey_url: str, key_prefix: str
) -> Iterator[tuple[Application, Application]]:
    settings = dataclasses.replace(
        Settings.from_env(), database_url=database_url, valkey_url=valkey_url, cache_prefix=key_prefix
    )
    first, second = (Application.from_settings(settings, threads=2) for _ in range(2))
    yield first, second
    first.close()
    second.close()


def _apply(app: Application, command: Command) -> None:
    assert app.execute(command, message_id=str(uuid.uuid4()), actor="test") is Outcome.APPLIED


def test_a_change_committed_by_another_process_is_listed_at_once(
    processes: tuple[Application, Application],
) -> None:
    reader, writer = processes
    org, folder = (f"{kind}-{uuid.uuid4().hex[:8]}" for kind in ("org", "f"))
    owner, friend = "alice", "bob"  # the owner of every upload_command
    for user in (owner, friend):
        _apply(writer, AddMember(org_id=org, user_id=user))
    _apply(writer, CreateFolder(folder_id=folder, org_id=org, name="n", created_by=owner))
    first, second = f"{folder}-d1", f"{folder}-d2"
    _apply(writer, upload_command(org, folder, first))
    as_owner = ListFolderDocuments(folder_id=folder, requested_by=owner)
    as_friend = ListFolderDocuments(folder_id=folder, requested_by=friend)
    assert [d.id for d in reader.list_folder(as_owner).documents] == [first]
    assert reader.list_folder(as_friend).documents == ()

    _apply(writer, upload_command(org, folder, second))
    _apply(writer, ShareDocument(doc_id=first, shared_by=owner, shared_with=friend, role=Role.VIEWER))

    assert sorted(d.id for d in reader.list_folder(as_owner).documents) == sorted([first, second])
    assert [d.id for d in reader.list_folder(as_friend).documents] == [first]
