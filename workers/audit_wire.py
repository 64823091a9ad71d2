"""The audit consumer's side of RabbitMQ: its queue, and what it accepts as an event.

An event has the common fields of docs/contract.md §6 and can be stored as is. Anything else is malformed,
and dead-lettered: not UTF-8 JSON, not an object, no UUID ``event_id``, no ``type``, an ``org_id`` or
``document_id`` that is neither a string nor null or is over 128 characters, a body nested over 32 levels
deep, an ``occurred_at`` that is not an RFC 3339 time with its
offset, a ``NaN`` or an infinite number, text Postgres cannot hold. Fields the consumer does not know are
kept, in the payload.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.event_codec import EVENTS_EXCHANGE
from adapters.postgres.audit_log import AuditEvent, UnstorableEvent
from adapters.rabbitmq.connection import EVENTS_EXCHANGE_TYPE
from workers.contract_json import refuse_constant


class MalformedEvent(ValueError):
    """The delivery is not an event this consumer can store: it goes to the dead-letter queue."""


@dataclass(frozen=True)
class Delivery:
    tag: int
    routing_key: str
    message_id: str | None
    body: bytes


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.XQ"


def declare_audit_queue(channel: Any, queue: str) -> None:
    """The exchange as the relay declares it; the queue, dead-lettering to ``<queue>.XQ``, bound to ``#``."""
    channel.exchange_declare(EVENTS_EXCHANGE, EVENTS_EXCHANGE_TYPE, durable=True)
    channel.queue_declare(dead_letter_queue(queue), durable=True)
    arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead_letter_queue(queue)}
    channel.queue_declare(queue, durable=True, arguments=arguments)
    channel.queue_bind(queue, EVENTS_EXCHANGE, routing_key="#")


MAX_TEXT = 128  # the contract's longest id (§2); an event's type is far shorter
MAX_DEPTH = 32  # docfleet's events nest two levels; storing a JSON body takes the stack its depth needs


def parse_event(body: bytes, routing_key: str | bytes) -> AuditEvent:
    """``routing_key`` as pika gives it: bytes when it is not UTF-8."""
    if not isinstance(routing_key, str):
        raise MalformedEvent("routing key: not UTF-8")
    payload = _json_object(body)
    _check_depth(payload)
    try:
        return AuditEvent(
            event_id=_event_id(payload.get("event_id")),
            type=_required_text(payload, "type"),
            routing_key=routing_key,
            org_id=_text(payload, "org_id"),
            document_id=_text(payload, "document_id"),
            occurred_at=_timestamp(payload.get("occurred_at")),
            payload=payload,
        )
    except (UnstorableEvent, RecursionError) as problem:
        raise MalformedEvent(str(problem) or "nested too deeply") from None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body.decode("utf-8"), parse_constant=refuse_constant, parse_float=_finite)
    except (UnicodeDecodeError, ValueError, RecursionError) as problem:
        raise MalformedEvent(f"body: not UTF-8 JSON ({str(problem)[:200]})") from None
    if not isinstance(decoded, dict):
        raise MalformedEvent("body: not a JSON object")
    return decoded


def _check_depth(payload: dict[str, Any]) -> None:
    pending: list[tuple[object, int]] = [(payload, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise MalformedEvent(f"body: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:40]} is out of range")
    return number


def _event_id(value: object) -> str:
    if not isinstance(value, str):
        raise MalformedEvent("event_id: missing, or not a string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise MalformedEvent("event_id: not a UUID") from None


def _required_text(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{field}: a non-empty string expected")
    return _short(field, value)


def _text(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    if value is not None and not isinstance(value, str):
        raise MalformedEvent(f"{field}: a string or null expected")
    return value if value is None else _short(field, value)


def _short(field: str, value: str) -> str:
    """An indexed column's value: a longer one would be refused by Postgres's index, not by its type."""
    if len(value) > MAX_TEXT:
        raise MalformedEvent(f"{field}: longer than {MAX_TEXT} characters")
    return value


# RFC 3339's date-time (section 5.6): "T" and "Z" in either case, a second of 60 (a leap second), the
# offset always given. Python's ``fromisoformat`` reads more of ISO 8601 (week dates, the basic format,
# no seconds) and refuses a lowercase "z" and a leap second, so the form is checked here first.
_RFC_3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}):(?P<second>\d{2})(?P<fraction>\.\d+)?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise MalformedEvent("occurred_at: missing, or not a string")
    form = _RFC_3339.fullmatch(value)
    if form is None:
        problem = "no UTC offset" if _without_offset(value) else "not an RFC 3339 time"
        raise MalformedEvent(f"occurred_at: {problem}")
    leap = form["second"] == "60"  # read as the next second's start, as Postgres reads it
    offset = "+00:00" if form["offset"] in "Zz" else form["offset"]
    text = f"{form['date']}T{form['time']}:{'59' if leap else form['second']}{form['fraction'] or ''}{offset}"
    try:
        moment = datetime.fromisoformat(text)
        moment = moment + timedelta(seconds=1) if leap else moment
    except (ValueError, OverflowError):  # a day or an hour out of range; a leap second past year 9999
        raise MalformedEvent("occurred_at: not an RFC 3339 time") from None
    try:
        moment.astimezone(UTC)  # stored as UTC: its instant must be one Python can read back
    except OverflowError:
        raise MalformedEvent("occurred_at: its UTC time is out of range (years 1 to 9999)") from None
    return moment


def _without_offset(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is None
    except ValueError:
        return False
