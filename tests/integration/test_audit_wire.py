"""What the audit consumer accepts as an event, and what it dead-letters (no service needed)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.integration.test_audit_support import event_body
from workers.audit_wire import MalformedEvent, parse_event

pytestmark = pytest.mark.integration


def test_an_event_keeps_every_field_and_its_time_with_its_offset() -> None:
    event_id = uuid.uuid4()
    body = event_body(str(event_id).upper(), occurred_at="2024-05-01T14:28:00+02:00", document_id="doc-42")
    body["future_field"] = {"nested": [1, "two"]}

    event = parse_event(json.dumps(body).encode(), "document.uploaded")

    assert event.event_id == str(event_id)
    assert (event.type, event.routing_key, event.org_id, event.document_id) == (
        "MemberAdded",
        "document.uploaded",
        "acme",
        "doc-42",
    )
    assert event.occurred_at == datetime(2024, 5, 1, 12, 28, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)
    assert dict(event.payload) == body


def test_org_id_may_be_null_and_document_id_absent() -> None:
    body = event_body(org_id=None)
    event = parse_event(json.dumps(body).encode(), "command.rejected.add_member")
    assert (event.org_id, event.document_id) == (None, None)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "not UTF-8 JSON"),
        (b'"a string"', "not a JSON object"),
        (json.dumps(event_body(event_id="42")).encode(), "event_id"),
        (json.dumps({**event_body(), "event_id": 42}).encode(), "event_id"),
        (json.dumps({**event_body(), "type": None}).encode(), "type"),
        (json.dumps({**event_body(), "document_id": ["d"]}).encode(), "document_id"),
        (json.dumps({**event_body(), "occurred_at": 1714566600}).encode(), "occurred_at"),
        (json.dumps({**event_body(), "occurred_at": "2024-05-01 12:00"}).encode(), "occurred_at"),
        (json.dumps({**event_body(), "x": float("inf")}).encode(), "not UTF-8 JSON"),
        (json.dumps({**event_body(), "name": "a\x00b"}).encode(), "NUL"),
    ],
)
def test_a_malformed_event_says_what_is_wrong(body: bytes, problem: str) -> None:
    with pytest.raises(MalformedEvent, match=problem):
        parse_event(body, "member.added")
