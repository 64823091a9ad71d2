"""Messages made ready to send: validated with the workers' own models, then encoded as the envelope."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from adapters.rabbitmq.queue_publisher import OutgoingMessage, QueueSpec
from workers.client.errors import InvalidArguments
from workers.contract import (
    ACTOR_KWARGS,
    COMMANDS_QUEUE,
    MAX_MESSAGE_BYTES,
    QUERIES_QUEUE,
    InvalidMessage,
    parse,
    queue_of,
)
from workers.contract_fields import is_id

DEAD_LETTER_TTL_MS = 604_800_000  # 7 days, as Dramatiq declares the .XQ queues


def contract_queues() -> list[QueueSpec]:
    """The queues of docs/contract.md §1 with exactly their arguments (a mismatch would be refused)."""
    specs: list[QueueSpec] = []
    for queue in (COMMANDS_QUEUE, QUERIES_QUEUE):
        specs.append(QueueSpec(f"{queue}.XQ", {"x-message-ttl": DEAD_LETTER_TTL_MS}))
        specs.append(
            QueueSpec(queue, {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": f"{queue}.XQ"})
        )
    return specs


def validate(actor: str, kwargs: Mapping[str, Any], message_id: str | None = None) -> None:
    """Raises ``InvalidArguments`` listing every problem, as a worker would find them."""
    problems: list[str] = []
    if message_id is not None and not is_id(message_id):
        problems.append("message_id: must be 1 to 128 characters, each a letter, a digit or one of _ . : -")
    if actor not in ACTOR_KWARGS:
        raise InvalidArguments(actor[:64], [*problems, f"actor: there is no actor named {actor[:64]!r}"])
    try:  # as a dict, which is what any mapping is sent as
        parse(actor, [], dict(kwargs) if isinstance(kwargs, Mapping) else kwargs)
    except InvalidMessage as invalid:
        problems.extend(invalid.problems)
    if problems:
        raise InvalidArguments(actor, problems)


def prepare(actor: str, kwargs: Mapping[str, Any], message_id: str | None = None) -> OutgoingMessage:
    """The message for ``actor``, ready to publish; ``InvalidArguments`` (nothing to send) if it breaks
    the contract. ``message_id`` defaults to a new UUID: pass one to make a later resend a duplicate."""
    validate(actor, kwargs, message_id)
    return encode(actor, kwargs, message_id)


def encode(actor: str, kwargs: Mapping[str, Any], message_id: str | None = None) -> OutgoingMessage:
    """The envelope of arguments already validated (``validate``), ready to publish."""
    message_id = message_id or str(uuid.uuid4())
    queue = queue_of(actor)
    envelope = {
        "queue_name": queue,
        "actor_name": actor,
        "args": [],
        "kwargs": dict(kwargs),
        "options": {},
        "message_id": message_id,
        "message_timestamp": int(time.time() * 1000),
    }
    body = json.dumps(envelope, separators=(",", ":")).encode()
    if len(body) > MAX_MESSAGE_BYTES:
        problem = f"message: the body would be {len(body)} bytes, over the limit of {MAX_MESSAGE_BYTES}"
        raise InvalidArguments(actor, [problem])
    return OutgoingMessage(queue=queue, message_id=message_id, body=body)
