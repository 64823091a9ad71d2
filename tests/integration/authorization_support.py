"""The scene of the authorization tests, and what they read back from Postgres and Valkey."""

from __future__ import annotations

import dataclasses
from typing import Any

import valkey
from sqlalchemy import Engine, select

from adapters.postgres.tables import access_policies, outbox
from tests.support.cache_keys import listing_key
from tests.workers.support import Fleet
from workers.settings import Settings


@dataclasses.dataclass(frozen=True)
class Scene:
    """alice owns doc in folder of org; bob and carol are members; mallory belongs to another org."""

    org: str
    folder: str
    doc: str
    alice: str
    bob: str
    carol: str
    mallory: str


def upload(scene: Scene, *, owner: str, doc: str | None = None) -> dict[str, Any]:
    doc_id = doc or scene.doc
    return {
        "doc_id": doc_id,
        "org_id": scene.org,
        "folder_id": scene.folder,
        "owner_id": owner,
        "name": "plan.pdf",
        "mime_type": "application/pdf",
        "blob_uri": f"s3://blobs/{doc_id}",
    }


def run(fleet: Fleet, actor: str, **kwargs: Any) -> str:
    message = fleet.send(actor, **kwargs)
    fleet.settle()
    return message.message_id


def share(fleet: Fleet, scene: Scene, by: str, to: str, role: str) -> str:
    return run(fleet, "share_document", doc_id=scene.doc, shared_by=by, shared_with=to, role=role)


def events_about(engine: Engine, doc_id: str, *types: str) -> list[dict[str, Any]]:
    query = select(outbox.c.payload).where(outbox.c.document_id == doc_id, outbox.c.type.in_(types))
    with engine.connect() as connection:
        return [dict(payload) for payload in connection.scalars(query.order_by(outbox.c.seq))]


def rejection_of(engine: Engine, message_id: str) -> dict[str, Any]:
    query = select(outbox.c.payload).where(outbox.c.payload["message_id"].astext == message_id)
    with engine.connect() as connection:
        [payload] = connection.scalars(query)
    return dict(payload)


def roles_on(engine: Engine, doc_id: str) -> dict[str, str]:
    query = select(access_policies.c.user_id, access_policies.c.role)
    with engine.connect() as connection:
        rows = connection.execute(query.where(access_policies.c.document_id == doc_id))
        return {row.user_id: row.role for row in rows}


def denials(engine: Engine, scene: Scene) -> list[tuple[str, str, str, str]]:
    return [
        (event["shared_by"], event["shared_with"], event["role"], event["reason"])
        for event in events_about(engine, scene.doc, "ShareDenied")
    ]


def is_cached(settings: Settings, folder_id: str) -> bool:
    client = valkey.Valkey.from_url(settings.valkey_url)
    try:
        return bool(client.exists(listing_key(settings, folder_id)))
    finally:
        client.close()  # type: ignore[no-untyped-call]
