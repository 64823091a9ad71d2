"""Messages for the fleet and the no-op actor, published in confirmed batches."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from adapters.rabbitmq.queue_publisher import OutgoingMessage, QueuePublisher, QueueSpec
from bench.noop_names import ACTOR as NOOP_ACTOR
from bench.noop_names import QUEUE as NOOP_QUEUE
from workers.client import DocfleetClient, prepare

BATCH = 1_000
ORG = "bench-org"
OWNER = "bench-owner"
READER = "bench-reader"


def upload_kwargs(doc_id: str, folder_id: str) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "org_id": ORG,
        "folder_id": folder_id,
        "owner_id": OWNER,
        "name": f"{doc_id}.pdf",
        "mime_type": "application/pdf",
        "blob_uri": f"s3://bench/{doc_id}.pdf",
        "tags": ["bench"],
    }


def share_kwargs(doc_id: str, shared_with: str) -> dict[str, Any]:
    return {"doc_id": doc_id, "shared_by": OWNER, "shared_with": shared_with, "role": "viewer"}


def uploads(prefix: str, folder_ids: Sequence[str], count: int) -> Iterator[OutgoingMessage]:
    """``count`` uploads of the documents ``<prefix>-<i>``, message ids ``<prefix>-up-<i>``, spread
    round-robin over ``folder_ids``."""
    for index in range(count):
        kwargs = upload_kwargs(f"{prefix}-{index}", folder_ids[index % len(folder_ids)])
        yield prepare("upload_document", kwargs, f"{prefix}-up-{index}")


def shares(prefix: str, count: int) -> Iterator[OutgoingMessage]:
    """Shares of the documents ``<prefix>-<i>`` with the reader, message ids ``<prefix>-sh-<i>``."""
    for index in range(count):
        yield prepare("share_document", share_kwargs(f"{prefix}-{index}", READER), f"{prefix}-sh-{index}")


def publish(client: DocfleetClient, messages: Iterable[OutgoingMessage]) -> int:
    """Sends every message in confirmed batches; how many were sent. Raises if RabbitMQ refused one."""
    sent = 0
    iterator = iter(messages)
    while batch := list(islice(iterator, BATCH)):
        undelivered = client.send_prepared(batch)
        if undelivered:
            raise RuntimeError(f"RabbitMQ refused {len(undelivered)} messages: {undelivered[0].why}")
        sent += len(batch)
    return sent


def noop_queues() -> Sequence[QueueSpec]:
    """The no-op queue as Dramatiq declares it (dead letters to ``<queue>.XQ``)."""
    dead_letters = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{NOOP_QUEUE}.XQ"}
    return [
        QueueSpec(f"{NOOP_QUEUE}.XQ", {"x-message-ttl": 604_800_000}),
        QueueSpec(NOOP_QUEUE, dead_letters),
    ]


def publish_noops(amqp_url: str, count: int) -> None:
    publisher = QueuePublisher(amqp_url, declare=noop_queues(), name="docfleet-bench")
    try:
        for start in range(0, count, BATCH):
            batch = [_noop() for _ in range(min(BATCH, count - start))]
            if publisher.publish(batch):
                raise RuntimeError("RabbitMQ refused no-op messages")
    finally:
        publisher.close()


def _noop() -> OutgoingMessage:
    message_id = str(uuid.uuid4())
    envelope = {
        "queue_name": NOOP_QUEUE,
        "actor_name": NOOP_ACTOR,
        "args": [],
        "kwargs": {},
        "options": {},
        "message_id": message_id,
        "message_timestamp": int(time.time() * 1000),
    }
    return OutgoingMessage(NOOP_QUEUE, message_id, json.dumps(envelope, separators=(",", ":")).encode())
