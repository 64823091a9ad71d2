"""The makings of hostile messages: the scene they name, one builder per outcome of docs/contract.md §4.

Every message names the scene below, so that what makes it hostile is the only thing wrong with it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Literal

SUFFIX = uuid.uuid4().hex[:8]
ORG, ALICE, MALLORY = f"org-{SUFFIX}", f"alice-{SUFFIX}", f"mallory-{SUFFIX}"
FOLDER, DOC = f"folder-{SUFFIX}", f"doc-{SUFFIX}"
COMMANDS, QUERIES = "documents", "documents-queries"


@dataclass(frozen=True)
class Hostile:
    name: str
    queue: str
    body: bytes
    outcome: Literal["dead_lettered", "refused"]
    says: str
    """A fragment of the worker's log line for it: the reason, in words."""
    rejected: str | None = None
    """The reason of the CommandRejected it must cause; None: it must cause no event at all."""
    answer: str | None = None
    """A query's stored answer: the error reason of a refusal, or the failure type of an invalid query."""
    message_id: str | None = None
    """The message id its log line names: None where the body cannot be read that far."""
    """A folder whose listing a query by a member may read through the cache before it is refused."""


def envelope(actor: str, kwargs: Any, **changes: Any) -> dict[str, Any]:
    return {
        "queue_name": QUERIES if actor == "list_folder" else COMMANDS,
        "actor_name": actor,
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
        **changes,
    }


_TIMESTAMP = re.compile(rb'"message_timestamp": \d+')


def sent_now(body: bytes) -> bytes:
    """``body`` with its ``message_timestamp`` set to now, every other byte as it was: the corpus is made
    when the tests are collected, minutes before some run, and a query older than its answer's time to
    live is not run (docs/contract.md §5)."""
    return _TIMESTAMP.sub(f'"message_timestamp": {int(time.time() * 1000)}'.encode(), body)


def encoded(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields).encode()


def unreadable(
    name: str, body: bytes, says: str, rejected: str | None = None, named: bool = False
) -> Hostile:
    message_id = json.loads(body)["message_id"] if named else None
    return Hostile(name, COMMANDS, body, "dead_lettered", says, rejected, message_id=message_id)


def invalid(name: str, actor: str, kwargs: Any, says: str, **changes: Any) -> Hostile:
    fields = envelope(actor, kwargs, **changes)
    body, message_id = encoded(fields), fields["message_id"]
    if actor == "list_folder":
        return Hostile(
            name, QUERIES, body, "dead_lettered", says, answer="InvalidMessage", message_id=message_id
        )
    return Hostile(name, COMMANDS, body, "dead_lettered", says, rejected="invalid", message_id=message_id)


def member(**changes: Any) -> dict[str, Any]:
    return {"org_id": ORG, "user_id": f"bob-{SUFFIX}", **changes}


def folder(**changes: Any) -> dict[str, Any]:
    return {"folder_id": f"sub-{SUFFIX}", "org_id": ORG, "name": "Sub", "created_by": ALICE, **changes}


def upload(**changes: Any) -> dict[str, Any]:
    kwargs = {"doc_id": f"new-{SUFFIX}", "org_id": ORG, "folder_id": FOLDER, "owner_id": ALICE}
    kwargs |= {"name": "q4.pdf", "mime_type": "application/pdf", "blob_uri": "s3://bucket/q4.pdf"}
    return {**kwargs, **changes}


def share(**changes: Any) -> dict[str, Any]:
    return {"doc_id": DOC, "shared_by": ALICE, "shared_with": f"bob-{SUFFIX}", "role": "viewer", **changes}


def listing(**changes: Any) -> dict[str, Any]:
    return {"folder_id": FOLDER, "requested_by": ALICE, **changes}


def refused_query(name: str, kwargs: dict[str, Any], reason: str) -> Hostile:
    fields = envelope("list_folder", kwargs)
    body, message_id = encoded(fields), fields["message_id"]
    return Hostile(name, QUERIES, body, "refused", reason, answer=reason, message_id=message_id)


def refused_command(name: str, actor: str, kwargs: dict[str, Any], reason: str) -> Hostile:
    fields = envelope(actor, kwargs)
    body, message_id = encoded(fields), fields["message_id"]
    return Hostile(name, COMMANDS, body, "refused", reason, rejected=reason, message_id=message_id)


def misrouted(name: str, actor: str, kwargs: dict[str, Any], queue: str, says: str) -> Hostile:
    fields = envelope(actor, kwargs, queue_name=queue)
    body, message_id = encoded(fields), fields["message_id"]
    if actor == "list_folder":  # a query's failure is its answer, as for an invalid one
        answer = "InvalidMessage"
        return Hostile(name, queue, body, "dead_lettered", says, answer=answer, message_id=message_id)
    return Hostile(name, queue, body, "dead_lettered", says, "invalid", message_id=message_id)


ODD_FOLDER = f"f.odd:{SUFFIX}_x-1"
ODD_FOLDER_NAME = "Robert'); DROP TABLE folders;-- \u05d3\u05d5\u05d7"
ODD_NAMES = [
    "Robert'); DROP TABLE documents;--",
    "\u05d3\u05d5\u05d7 \u05e8\u05d1\u05e2\u05d5\u05e0\u05d9.pdf",
    "\u062a\u0642\u0631\u064a\u0631\u200f (\u0645\u0633\u0648\u062f\u0629).pdf",
    "\u62a5\u544a \U0001f4c4.pdf",
    "e\u0301te\u0301 \U0001f469\u200d\U0001f4bb.txt",
    "<script>alert(1)</script>.html",
    "*#?[]{}>:.pdf",
    "..\\..\\%2e%2e%00.pdf",
    "\u00a0nbsp\ufeffbom\u200b.pdf",
    "n" * 255,
]
ODD_TAGS = ["q3 review", "\u6570\u636e", 'it\'s "quoted"', "DROP TABLE tags;--", "*", "#", "a.b:c"]
ODD_BLOB_URIS = ["https://files.example.com:8443/a/b%20c%C3%A9.pdf", "s3://bucket/a/b'(c)*!$&+,;=:@~.pdf"]


def odd_uploads() -> list[dict[str, Any]]:
    """Documents whose every string is odd but accepted by the contract (ids may hold '.', ':', '_', '-')."""
    return [
        upload(
            doc_id=f"d.{n}:{SUFFIX}_x-y",
            folder_id=ODD_FOLDER,
            name=name,
            mime_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            blob_uri=ODD_BLOB_URIS[n % 2],
            tags=ODD_TAGS[n % 3 :],
        )
        for n, name in enumerate(ODD_NAMES)
    ]


def renamed(hostile: Hostile) -> Hostile:
    """The same message under a new message id: tests share a database, and an id seen before by its
    inbox would make the message a duplicate."""
    if hostile.message_id is None:
        return hostile
    message_id = str(uuid.uuid4())
    body = hostile.body.replace(hostile.message_id.encode(), message_id.encode())
    return replace(hostile, body=body, message_id=message_id)
