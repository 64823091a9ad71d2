"""Messages the fleet can never carry out are dead-lettered to documents.XQ; the worker goes on."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import dramatiq
import pika
import pytest

from tests.e2e.fleet import Client
from workers.settings import Settings

pytestmark = pytest.mark.e2e
DEAD_LETTERS = "documents.XQ"


def test_invalid_messages_are_dead_lettered_and_the_worker_goes_on(
    client: Client, fleet_settings: Settings
) -> None:
    org, user = f"org-{uuid.uuid4().hex[:8]}", f"dana-{uuid.uuid4().hex[:6]}"
    bad_field = client.send("share_document", doc_id="doc-1", shared_by="a", shared_with="b", role="admin")
    undecodable = f"this is not a Dramatiq envelope {uuid.uuid4()}".encode()
    _publish_raw(fleet_settings.amqp_url, "documents", undecodable)
    unknown_actor: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents", actor_name="no_such_actor", args=(), kwargs={"org_id": org}, options={}
    )
    client.broker.enqueue(unknown_actor)

    client.perform("add_member", "MemberAdded", org_id=org, user_id=user)
    dead = _dead_lettered(
        fleet_settings.amqp_url, {bad_field.message_id, unknown_actor.message_id}, undecodable
    )
    rejected = client.events(
        lambda body: body.get("message_id") in (bad_field.message_id, unknown_actor.message_id),
        count=2,
    )

    assert dead == {"envelopes": {bad_field.message_id, unknown_actor.message_id}, "raw": True}
    assert sorted(event.routing_key for event in rejected) == [
        "command.rejected.no_such_actor",
        "command.rejected.share_document",
    ]
    assert all(event.payload()["reason"] == "invalid" for event in rejected)


def _publish_raw(amqp_url: str, queue: str, body: bytes) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
        channel.basic_publish("", queue, body, properties, mandatory=True)
    finally:
        connection.close()


def _dead_lettered(
    amqp_url: str, message_ids: set[str], raw: bytes, timeout: float = 30.0
) -> dict[str, object]:
    """Which of the messages are in the dead-letter queue; it is read without taking anything from it."""
    found: set[str] = set()
    raw_found = False
    deadline = time.monotonic() + timeout
    while (found != message_ids or not raw_found) and time.monotonic() < deadline:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            while (delivery := channel.basic_get(DEAD_LETTERS, auto_ack=False))[0] is not None:
                body = delivery[2]
                raw_found = raw_found or body == raw
                found |= {_message_id(body)} & message_ids
        finally:
            connection.close()  # unacknowledged: every message goes back to the queue
        time.sleep(0.2)
    return {"envelopes": found, "raw": raw_found}


def _message_id(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message_id"))
    except (ValueError, AttributeError):
        return ""
