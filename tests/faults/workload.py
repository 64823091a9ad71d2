"""The commands a scenario sends: members and folders first, then uploads, with shares mixed in.

Every command is made once, with its message id, and remembered with the effect it must have: the
ledger looks each effect up in Postgres afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from adapters.rabbitmq.queue_publisher import OutgoingMessage
from workers.client import prepare


@dataclass(frozen=True)
class Effect:
    """What one applied command leaves behind: ``kind`` is the actor, ``key`` what it is about."""

    kind: str
    key: tuple[str, ...]


@dataclass(frozen=True)
class Command:
    message: OutgoingMessage
    effect: Effect

    @property
    def message_id(self) -> str:
        return self.message.message_id


class Workload:
    def __init__(self, folders: int = 4) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.org = f"org-{self.tag}"
        self.owner, self.reader = f"owner-{self.tag}", f"reader-{self.tag}"
        self.folders = [f"folder-{self.tag}-{index}" for index in range(folders)]

    def members(self) -> list[Command]:
        return [self._command("add_member", {"org_id": self.org, "user_id": user}) for user in self.users]

    def folders_created(self) -> list[Command]:
        """The folders, created by the owner: send them once the members are in."""
        return [
            self._command(
                "create_folder",
                {"folder_id": folder, "org_id": self.org, "name": folder, "created_by": self.owner},
            )
            for folder in self.folders
        ]

    @property
    def users(self) -> tuple[str, str]:
        return (self.owner, self.reader)

    def document(self, index: int) -> str:
        return f"doc-{self.tag}-{index}"

    def upload(self, index: int, folder: str | None = None) -> Command:
        doc = self.document(index)
        kwargs = {
            "doc_id": doc,
            "org_id": self.org,
            "folder_id": folder or self.folders[index % len(self.folders)],
            "owner_id": self.owner,
            "name": f"{doc}.pdf",
            "mime_type": "application/pdf",
            "blob_uri": f"s3://faults/{doc}.pdf",
            "tags": ["faults"],
        }
        return self._command("upload_document", kwargs)

    def share(self, doc: str) -> Command:
        kwargs = {"doc_id": doc, "shared_by": self.owner, "shared_with": self.reader, "role": "viewer"}
        return self._command("share_document", kwargs)

    def _command(self, actor: str, kwargs: dict[str, Any]) -> Command:
        message = prepare(actor, kwargs, f"{self.tag}-{uuid.uuid4().hex}")
        return Command(message, Effect(actor, _effect_key(actor, kwargs)))


def _effect_key(actor: str, kwargs: dict[str, Any]) -> tuple[str, ...]:
    if actor == "add_member":
        return (kwargs["org_id"], kwargs["user_id"])
    if actor == "create_folder":
        return (kwargs["folder_id"],)
    if actor == "upload_document":
        return (kwargs["doc_id"],)
    return (kwargs["doc_id"], kwargs["shared_with"])
