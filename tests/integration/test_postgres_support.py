"""Helpers for the Postgres adapter tests (no tests here): seeding through the adapter, and probes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from adapters.postgres.session import PgSession
from adapters.postgres.tables import folders, inbox
from adapters.postgres.unit_of_work import SqlUnitOfWork
from domain.commands import AddMember, Command, CreateFolder, UploadDocument
from domain.events import DocumentUploaded
from domain.model import Document, DocumentContent, Folder
from domain.ports import UnitOfWorkFactory
from domain.use_cases.dispatch import Outcome, execute
from tests.conftest import IdMaker

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def seed_folder(engine: Engine, new_id: IdMaker, *, now: datetime = NOW, name: str = "Reports") -> Folder:
    """A new organization with member "alice", who created its root folder ("Reports")."""
    org_id = new_id("org")
    folder = Folder.create(
        folder_id=new_id("folder"), org_id=org_id, name=name, parent=None, created_by="alice", now=now
    )
    with SqlUnitOfWork(engine, None) as uow:
        uow.members.add(org_id, "alice")
        uow.folders.add(folder)
        uow.commit()
    return folder


def first_version(
    new_id: IdMaker, folder: Folder, *, tags: tuple[str, ...] = ("q1", "finance"), now: datetime = NOW
) -> Document:
    content = DocumentContent("report.pdf", "application/pdf", "s3://bucket/report", tags)
    return Document.first_version(
        doc_id=new_id("doc"),
        org_id=folder.org_id,
        folder_id=folder.id,
        owner_id="alice",
        content=content,
        now=now,
    )


def document_in(folder: Folder, doc_id: str, created_at: datetime) -> Document:
    """A first version named for its id, owned by alice, created at ``created_at``."""
    content = DocumentContent(f"{doc_id}.txt", "text/plain", f"s3://bucket/{doc_id}", ("x",))
    scope = {"org_id": folder.org_id, "folder_id": folder.id}
    return Document.first_version(doc_id=doc_id, **scope, owner_id="alice", content=content, now=created_at)


def uploaded(document: Document) -> DocumentUploaded:
    return DocumentUploaded(
        org_id=document.org_id,
        doc_id=document.id,
        owner_id=document.owner_id,
        uploaded_by=document.uploaded_by,
        folder_id=document.folder_id,
        version=document.version,
        name=document.name,
        mime_type=document.mime_type,
    )


def listing_version(engine: Engine, folder_id: str) -> int:
    query = select(folders.c.listing_version).where(folders.c.id == folder_id)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def inbox_has(engine: Engine, message_id: str) -> bool:
    query = select(inbox.c.message_id).where(inbox.c.message_id == message_id)
    with engine.connect() as connection:
        return connection.scalar(query) is not None


def wait_until_blocked(engine: Engine, statement_start: str, sessions: int = 1) -> None:
    """Returns once ``sessions`` sessions of this database wait on a lock running the given statement."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE :pattern"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if (connection.scalar(query, {"pattern": f"{statement_start}%"}) or 0) >= sessions:
                return
        time.sleep(0.02)
    pytest.fail(f"fewer than {sessions} sessions waited on a lock running {statement_start!r}")


def wait_until_run(uow: SqlUnitOfWork) -> None:
    """A read in ``uow``'s transaction, so the server has run what it sent before another is sent.

    Statements are sent without waiting. With two transactions on one thread, were the second's
    conflicting write to run first, the first's would wait for the second to end, the first's commit
    would never return, and the test would hang. Only the first may wait: the second's write waits, on
    the server, for the first to end. For the same reason the second is entered first: should the test
    fail before the first commits, the first ends before the second's clean-up waits on it.
    """
    assert uow.session.scalar("SELECT 1") == 1


def run(new_uow: UnitOfWorkFactory, new_id: IdMaker, command: Command, actor: str = "alice") -> Outcome:
    """Runs the command as a message of its own, as a worker would."""
    return execute(command, message_id=new_id("msg"), actor=actor, new_uow=new_uow)


def org_with_folder(new_uow: UnitOfWorkFactory, new_id: IdMaker) -> tuple[str, str]:
    """Through the use cases: members "alice" and "bob", and alice's root folder "Reports"."""
    org_id, folder_id = new_id("org"), new_id("folder")
    for user_id in ("alice", "bob"):
        assert run(new_uow, new_id, AddMember(org_id=org_id, user_id=user_id)) is Outcome.APPLIED
    command = CreateFolder(folder_id=folder_id, org_id=org_id, name="Reports", created_by="alice")
    assert run(new_uow, new_id, command) is Outcome.APPLIED
    return org_id, folder_id


def upload_command(org_id: str, folder_id: str, doc_id: str, name: str = "q1.pdf") -> UploadDocument:
    return UploadDocument(
        doc_id=doc_id,
        org_id=org_id,
        folder_id=folder_id,
        owner_id="alice",
        name=name,
        mime_type="application/pdf",
        blob_uri=f"s3://bucket/{doc_id}/{name}",
        tags=("finance",),
    )


def record_statements(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """From now on, each statement a unit of work runs, as (how: send, one, all or commit, its
    first three words). A ``send`` is queued; only ``one``, ``all`` and ``commit`` wait for the server."""
    statements: list[tuple[str, str]] = []

    def recording(method_name: str) -> Any:
        method = getattr(PgSession, method_name)

        def record(session: PgSession, *args: Any) -> Any:
            sql = args[0] if args else ""
            statements.append((method_name, " ".join(sql.split()[:3]).split("(")[0].strip()))
            return method(session, *args)

        return record

    for name in ("send", "one", "all", "commit"):
        monkeypatch.setattr(PgSession, name, recording(name))
    return statements
