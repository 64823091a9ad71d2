"""Members, folders and the listing folder, written in-process through the product's Application."""

from __future__ import annotations

from bench.load import ORG, OWNER, READER, upload_kwargs
from domain.commands import AddMember, Command, CreateFolder, UploadDocument
from domain.use_cases.dispatch import Outcome
from workers.bootstrap import Application


def apply(app: Application, command: Command, message_id: str, actor: str) -> None:
    outcome = app.execute(command, message_id=message_id, actor=actor)
    if outcome is not Outcome.APPLIED:
        raise RuntimeError(f"setup {actor} {message_id}: {outcome}")


def upload_folders(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-folder-{index}" for index in range(count)]


def prepare_run(app: Application, prefix: str, recipients: list[str], folders: int) -> None:
    """The owner, the reader and the latency recipients as members; the run's upload folders and its
    listing folder."""
    for user in (OWNER, READER, *recipients):
        apply(app, AddMember(org_id=ORG, user_id=user), f"{prefix}-member-{user}", "add_member")
    for folder in (*upload_folders(prefix, folders), f"{prefix}-list"):
        command = CreateFolder(folder_id=folder, org_id=ORG, name=folder, created_by=OWNER)
        apply(app, command, f"{prefix}-create-{folder}", "create_folder")


def fill_listing_folder(app: Application, prefix: str, size: int) -> str:
    """``size`` documents in the run's listing folder; its id."""
    folder = f"{prefix}-list"
    for index in range(size):
        kwargs = upload_kwargs(f"{prefix}-listed-{index}", folder)
        command = UploadDocument(**{**kwargs, "tags": tuple(kwargs["tags"])})
        apply(app, command, f"{prefix}-listed-up-{index}", "upload_document")
    return folder
