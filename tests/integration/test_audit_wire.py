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


def _occurred_at(value: str) -> datetime:
    return parse_event(json.dumps(event_body(occurred_at=value)).encode(), "member.added").occurred_at


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01t00:00:00z", datetime(2024, 1, 1, tzinfo=UTC)),  # RFC 3339 allows either case
        ("2024-01-01T01:30:00.25+01:30", datetime(2024, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=UTC)),  # a leap second, as Postgres reads it
    ],
)
def test_every_rfc_3339_time_is_read(value: str, moment: datetime) -> None:
    assert _occurred_at(value) == moment


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2024-05-01T12:28:00", "no UTC offset"),
        ("2024-01-01T00:00Z", "not an RFC 3339 time"),  # no seconds
        ("2024-W01-1T00:00:00Z", "not an RFC 3339 time"),  # an ISO 8601 week date
        ("20240101T000000Z", "not an RFC 3339 time"),  # ISO 8601's basic format
        ("2024-01-01T00:00:00+05:30:15", "not an RFC 3339 time"),  # an offset with seconds
        ("2024-02-30T00:00:00Z", "not an RFC 3339 time"),
        ("2024-01-01T00:00:00+24:00", "not an RFC 3339 time"),
        ("9999-12-31T23:59:60Z", "not an RFC 3339 time"),  # a leap second past the last representable
        ("\uff12\uff10\uff12\uff14-01-01T00:00:00Z", "not an RFC 3339 time"),  # fullwidth digits
        ("9999-12-31T23:59:59-23:59", "its UTC time is out of range"),  # year 10000 in UTC
        ("0001-01-01T00:00:00+23:59", "its UTC time is out of range"),  # 1 BC in UTC
    ],
)
def test_a_time_that_is_not_rfc_3339_is_malformed(value: str, problem: str) -> None:
    with pytest.raises(MalformedEvent, match=f"occurred_at: {problem}"):
        _occurred_at(value)


def test_a_routing_key_that_is_not_utf_8_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="routing key: not UTF-8"):
        parse_event(json.dumps(event_body()).encode(), b"document.\xff.shared")
