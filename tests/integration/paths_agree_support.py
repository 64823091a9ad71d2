"""The commands of the differential test (test_paths_agree.py): a small world, then random messages on it.

Organization A has alice, bob and carol; organization B has dave and carol; mallory belongs to neither,
and organization C has nobody until a message adds someone. The messages upload documents (new ones and
new versions; into their folder, another folder, a folder not created yet, a folder of another
organization; with names that are one name only once composed, NFC), share them (every role, to members
and outsiders, by owners and others, owners demoting themselves), revoke access, create folders (whose
names may clash with a sibling's only once composed) and add members. About one message in ten reuses
an earlier message's id for a different command.

Each message is aimed at the state the fakes reach with the messages before it (the documents that exist
and who holds a role on them, an organization's members and folders), so that most get past the first
check and the sequence builds on itself; the aim decides nothing: each path decides, and they are compared.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

from hypothesis import strategies as st

from domain.commands import AddMember, Command, CreateFolder, RevokeAccess, ShareDocument, UploadDocument
from domain.errors import NotFound
from domain.roles import Role
from domain.use_cases.dispatch import execute
from tests.unit.fakes import FakeDatabase
from workers.contract import COMMANDS

ORG_A, ORG_B, ORG_C = "org-a", "org-b", "org-c"
ORGS = (ORG_A, ORG_B, ORG_C)
MEMBERS_AT_START = {ORG_A: ("alice", "bob", "carol"), ORG_B: ("dave", "carol")}
USERS = ("alice", "bob", "carol", "dave", "mallory")
FOLDERS_AT_START = {
    "reports": (ORG_A, "Reports"),
    "resumes": (ORG_A, "R\u00e9sum\u00e9s"),  # composed: "\u00e9" is one code point
    "shared": (ORG_B, "Shared"),
}
FOLDERS_CREATED_LATER = ("archive", "minutes", "missing")  # uploads may name them before they exist
FOLDER_IDS = (*FOLDERS_AT_START, *FOLDERS_CREATED_LATER)
FOLDER_NAMES = ("Re\u0301sume\u0301s", "R\u00e9sum\u00e9s", "Reports", "Drafts")  # the first two: one name
DOCUMENT_IDS = ("d1", "d2", "d3", "d4")
DOCUMENT_NAMES = ("caf\u00e9.pdf", "cafe\u0301.pdf", "notes.txt")  # the first two: one name once composed
TAGS = ((), ("q1",), ("q1", "finance"))
KINDS = ("upload",) * 5 + ("share",) * 7 + ("revoke",) * 4 + ("folder",) * 2 + ("member",) * 2
DRAWN_MESSAGES = (24, 34)  # at least, at most

T = TypeVar("T")
# Each command's actor, as the contract pairs them: the command its kwargs' ``to_domain`` gives.
ACTOR_OF: dict[object, str] = {
    get_type_hints(kwargs.to_domain)["return"]: actor for actor, kwargs in COMMANDS.items()
}


@dataclass(frozen=True)
class Message:
    message_id: str
    command: Command

    @property
    def actor(self) -> str:
        """The actor its envelope names, as a worker passes it on (``CommandRejected.actor``)."""
        return ACTOR_OF[type(self.command)]

    def __str__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self.command).items())
        return f"{self.message_id}: {type(self.command).__name__}({fields})"


@dataclass(frozen=True)
class Scenario:
    """The world's messages, then the drawn ones; group commit batches at most ``batch_size`` in a row."""

    messages: tuple[Message, ...]
    batch_size: int

    def __repr__(self) -> str:
        lines = "\n".join(f"  #{index} {message}" for index, message in enumerate(self.messages))
        return f"Scenario(batch_size={self.batch_size}, messages:\n{lines})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis prints a failing example: as ``repr``, one message a line."""
        printer.text(repr(self))


def world() -> list[Message]:
    """The members and folders every scenario starts with, made by messages as any others."""
    members = [
        AddMember(org_id=org, user_id=user) for org, users in MEMBERS_AT_START.items() for user in users
    ]
    folders = [
        CreateFolder(folder_id=folder_id, org_id=org, name=name, created_by=MEMBERS_AT_START[org][0])
        for folder_id, (org, name) in FOLDERS_AT_START.items()
    ]
    commands: list[Command] = [*members, *folders]
    return [Message(f"w{index}", command) for index, command in enumerate(commands)]


class _Aim:
    """The state the fakes reach with the messages drawn so far: what the next ones aim at."""

    def __init__(self) -> None:
        self.db = FakeDatabase()
        self._new_uow = self.db.uow_factory()

    def run(self, message: Message) -> None:
        with contextlib.suppress(NotFound):
            execute(
                message.command, message_id=message.message_id, actor=message.actor, new_uow=self._new_uow
            )

    def members_of(self, org_id: str) -> list[str]:
        return sorted(self.db.members.get(org_id, ()))

    def folders_of(self, org_id: str) -> list[str]:
        return sorted(folder.id for folder in self.db.folders.values() if folder.org_id == org_id)

    def holders_of(self, doc_id: str) -> list[str]:
        """Who holds a role on the document, owners first."""
        return sorted(
            self.db.roles_on(doc_id), key=lambda user: (user not in self.db.owners_of(doc_id), user)
        )


def _aimed(likely: Sequence[T], every: Sequence[T], odds: int = 4) -> st.SearchStrategy[T]:
    """One of ``likely`` ``odds`` times to one (and where shrinking goes), else any of ``every``."""
    if not likely:
        return st.sampled_from(every)
    pick = st.integers(min_value=0, max_value=odds)
    return pick.flatmap(lambda n: st.sampled_from(likely if n < odds else every))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """The world, then 24 to 34 drawn messages; about one in ten reuses an earlier drawn message's id."""
    messages, aim = world(), _Aim()
    for message in messages:
        aim.run(message)
    for index in range(draw(st.integers(*DRAWN_MESSAGES))):
        kind = draw(st.sampled_from(KINDS)) if aim.db.documents else "upload"  # something to share first
        command = _draw_command(draw, kind, aim)
        reuse = index > 0 and draw(st.integers(min_value=0, max_value=8)) == 8
        message_id = f"m{draw(st.integers(min_value=0, max_value=index - 1))}" if reuse else f"m{index}"
        messages.append(Message(message_id, command))
        aim.run(messages[-1])
    return Scenario(tuple(messages), draw(st.integers(min_value=2, max_value=8)))


def _draw_command(draw: st.DrawFn, kind: str, aim: _Aim) -> Command:
    if kind == "upload":
        return _draw_upload(draw, aim)
    if kind == "share":
        return _draw_share(draw, aim)
    if kind == "revoke":
        return _draw_revoke(draw, aim)
    if kind == "folder":
        return _draw_folder(draw, aim)
    return AddMember(org_id=draw(_aimed([ORG_A], ORGS)), user_id=draw(st.sampled_from(USERS)))


def _draw_share(draw: st.DrawFn, aim: _Aim) -> ShareDocument:
    doc_id = draw(_aimed(sorted(aim.db.documents), DOCUMENT_IDS))
    document = aim.db.documents.get(doc_id)
    shared_by = draw(_aimed(aim.holders_of(doc_id), USERS))  # an owner, or an editor or viewer
    members = aim.members_of(document.org_id) if document else []
    shared_with = draw(_aimed(members, USERS))  # the sharer too, at times: an owner demoting itself
    role = draw(st.sampled_from(Role))
    return ShareDocument(doc_id=doc_id, shared_by=shared_by, shared_with=shared_with, role=role)


def _draw_revoke(draw: st.DrawFn, aim: _Aim) -> RevokeAccess:
    doc_id = draw(_aimed(sorted(aim.db.documents), DOCUMENT_IDS))
    revoked_by = draw(_aimed(aim.holders_of(doc_id), USERS))
    others = [user for user in aim.holders_of(doc_id) if user != revoked_by]
    user_id = draw(_aimed(others or [revoked_by], USERS))  # the revoker when alone: the last owner
    return RevokeAccess(doc_id=doc_id, revoked_by=revoked_by, user_id=user_id)


def _draw_upload(draw: st.DrawFn, aim: _Aim) -> UploadDocument:
    doc_id = draw(st.sampled_from(DOCUMENT_IDS))
    document = aim.db.documents.get(doc_id)
    org_id = draw(_aimed([document.org_id] if document else [ORG_A, ORG_B], ORGS))
    if document is not None:  # its folder, or a wrong one
        folder_id = draw(_aimed([document.folder_id], FOLDER_IDS, odds=1))
    else:  # a folder of the organization, or one of another, or one not created (yet)
        folder_id = draw(_aimed(aim.folders_of(org_id), FOLDER_IDS, odds=2))
    owner_id = draw(_aimed(aim.holders_of(doc_id) if document else aim.members_of(org_id), USERS))
    name = draw(st.sampled_from(DOCUMENT_NAMES))
    return UploadDocument(
        doc_id=doc_id,
        org_id=org_id,
        folder_id=folder_id,
        owner_id=owner_id,
        name=name,
        mime_type="application/pdf" if name.endswith(".pdf") else "text/plain",
        blob_uri=f"s3://blobs/{doc_id}/{draw(st.integers(min_value=1, max_value=99))}",
        tags=draw(st.sampled_from(TAGS)),
    )


def _draw_folder(draw: st.DrawFn, aim: _Aim) -> CreateFolder:
    folder_id = draw(st.sampled_from((*FOLDERS_CREATED_LATER, "reports")))  # "reports": an id taken
    org_id = draw(_aimed([ORG_A], ORGS))
    return CreateFolder(
        folder_id=folder_id,
        org_id=org_id,
        name=draw(st.sampled_from(FOLDER_NAMES)),
        created_by=draw(_aimed(aim.members_of(org_id), USERS)),
        parent_id=draw(_aimed([None], (None, "reports", "shared", "archive"))),
    )
