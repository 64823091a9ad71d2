"""What Postgres says happened: effects, inbox rows, outbox events. Read with plain psycopg, each call on a
connection of its own (scenario 5 terminates the database's connections)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import psycopg

from adapters.postgres.engine import libpq_conninfo
from tests.faults.workload import Effect

EFFECT_OF_EVENT = {
    "MemberAdded": ("add_member", ("org_id", "user_id")),
    "FolderCreated": ("create_folder", ("folder_id",)),
    "DocumentUploaded": ("upload_document", ("document_id",)),
    "DocumentShared": ("share_document", ("document_id", "shared_with")),
}
REFUSALS = ("CommandRejected", "ShareDenied")


def rows(database_url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True, connect_timeout=10) as connection:
        return list(connection.execute(query, params).fetchall())


def existing_documents(database_url: str, doc_ids: Collection[str]) -> set[str]:
    """Those of ``doc_ids`` already in Postgres; none when Postgres cannot be asked right now."""
    if not doc_ids:
        return set()
    try:
        return {
            row[0] for row in rows(database_url, "SELECT id FROM documents WHERE id = ANY(%s)", list(doc_ids))
        }
    except psycopg.Error:
        return set()


def processed(database_url: str, message_ids: Collection[str]) -> set[str]:
    found = rows(database_url, "SELECT message_id FROM inbox WHERE message_id = ANY(%s)", list(message_ids))
    return {row[0] for row in found}


def outbox_pending(database_url: str) -> int:
    return int(rows(database_url, "SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0])


@dataclass(frozen=True)
class Committed:
    """The effects present in Postgres, how many times each, and every committed event id."""

    effects: Counter[Effect]
    events_per_effect: Counter[Effect]
    event_ids: set[str]
    refusals: int


def committed(database_url: str, org_id: str) -> Committed:
    effects: Counter[Effect] = Counter()
    for org, user in rows(database_url, "SELECT org_id, user_id FROM memberships WHERE org_id = %s", org_id):
        effects[Effect("add_member", (org, user))] += 1
    for (folder,) in rows(database_url, "SELECT id FROM folders WHERE org_id = %s", org_id):
        effects[Effect("create_folder", (folder,))] += 1
    for doc, version in rows(database_url, "SELECT id, version FROM documents WHERE org_id = %s", org_id):
        effects[Effect("upload_document", (doc,))] += version  # each upload of a doc_id adds a version
    shared = "SELECT document_id, user_id FROM access_policies WHERE role = 'viewer'"
    for doc, user in rows(database_url, shared):
        effects[Effect("share_document", (doc, user))] += 1
    events_per_effect: Counter[Effect] = Counter()
    event_ids, refusals = set(), 0
    for event_id, kind, payload in rows(database_url, "SELECT event_id::text, type, payload FROM outbox"):
        event_ids.add(event_id)
        refusals += kind in REFUSALS
        if kind in EFFECT_OF_EVENT:
            actor, fields = EFFECT_OF_EVENT[kind]
            events_per_effect[Effect(actor, tuple(payload[field] for field in fields))] += 1
    return Committed(effects, events_per_effect, event_ids, refusals)
