from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.commands import CreateFolder
from domain.errors import Conflict
from domain.events import FolderCreated
from domain.model import Folder, utc_now
from domain.ports import UnitOfWork
from domain.use_cases.guards import require_folder_in_org, require_member


def create_folder(cmd: CreateFolder, uow: UnitOfWork, now: Callable[[], datetime] = utc_now) -> None:
    with uow:
        require_member(uow, cmd.org_id, cmd.created_by)
        existing = uow.folders.get(cmd.folder_id)
        if existing is not None:
            _require_asked_again(existing, cmd)
            uow.commit()  # the same folder asked for again: nothing to do
            return
        parent = None if cmd.parent_id is None else require_folder_in_org(uow, cmd.parent_id, cmd.org_id)
        if uow.folders.sibling_named(cmd.org_id, cmd.parent_id, cmd.name) is not None:
            raise Conflict(f"a folder named {cmd.name!r} already exists there", org_id=cmd.org_id)
        folder = Folder.create(
            folder_id=cmd.folder_id,
            org_id=cmd.org_id,
            name=cmd.name,
            parent=parent,
            created_by=cmd.created_by,
            now=now(),
        )
        uow.folders.add(folder)
        uow.record(_created(folder, created_by=cmd.created_by))
        uow.commit()


def _require_asked_again(existing: Folder, cmd: CreateFolder) -> None:
    """A folder id names one folder: taken by another, the command is refused."""
    if not existing.same_as_request(cmd.org_id, cmd.name, cmd.parent_id):
        raise Conflict(f"folder id {cmd.folder_id!r} is already taken", org_id=cmd.org_id)


def _created(folder: Folder, created_by: str) -> FolderCreated:
    return FolderCreated(
        org_id=folder.org_id,
        folder_id=folder.id,
        parent_id=folder.parent_id,
        name=folder.name,
        created_by=created_by,
    )
