"""With Valkey unreachable, the fleet's Application still applies commands and answers listings."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from domain.commands import AddMember, CreateFolder, ListFolderDocuments, UploadDocument
from domain.use_cases.dispatch import Outcome
from workers.bootstrap import Application
from workers.settings import Settings

pytestmark = pytest.mark.integration

NOTHING_LISTENS = "redis://127.0.0.1:1/0"


@pytest.fixture
def application(database_url: str, key_prefix: str) -> Iterator[Application]:
    settings = dataclasses.replace(
        Settings.from_env(), database_url=database_url, valkey_url=NOTHING_LISTENS, cache_prefix=key_prefix
    )
    app = Application.from_settings(settings, threads=2)
    yield app
    app.close()


def _run(app: Application, command: object) -> Outcome:
    return app.execute(command, message_id=str(uuid.uuid4()), actor="test")  # type: ignore[arg-type]


def test_an_upload_and_a_listing_succeed_while_valkey_is_down(application: Application) -> None:
    org, user, folder, doc = (f"{kind}-{uuid.uuid4().hex[:8]}" for kind in ("org", "u", "f", "d"))
    assert _run(application, AddMember(org_id=org, user_id=user)) is Outcome.APPLIED
    assert _run(application, CreateFolder(folder_id=folder, org_id=org, name="n", created_by=user)) is (
        Outcome.APPLIED
    )
    upload = UploadDocument(
        doc_id=doc,
        org_id=org,
        folder_id=folder,
        owner_id=user,
        name="a.pdf",
        mime_type="application/pdf",
        blob_uri="s3://bucket/a.pdf",
    )
    assert _run(application, upload) is Outcome.APPLIED

    first = application.list_folder(ListFolderDocuments(folder_id=folder, requested_by=user))
    second = application.list_folder(ListFolderDocuments(folder_id=folder, requested_by=user))

    assert [d.id for d in first.documents] == [doc]
    assert second == first
