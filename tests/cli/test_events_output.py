"""What ``docfleet events tail`` prints of an event: one line each, nothing a terminal would act on, even
for an event forged by another publisher on doc.events."""

from __future__ import annotations

import json

import pytest

from adapters.rabbitmq.subscription import ReceivedEvent
from workers.cli.events import json_line, one_line

HOSTILE = "\x1b]0;owned\x07\x1b[2J\u0085\u202e"
UNSAFE = ("\x1b", "\x07", "\u0085", "\u202e", "\n")


def received(body: bytes) -> ReceivedEvent:
    return ReceivedEvent("member.added", "e1", "MemberAdded", "application/json", 2, body)


@pytest.mark.parametrize("print_line", [json_line, one_line])
def test_a_forged_event_prints_on_one_line_with_its_controls_escaped(print_line: object) -> None:
    body = json.dumps({"type": "MemberAdded", "user_id": HOSTILE + "\nforged line"}).encode()

    line = print_line(received(body))  # type: ignore[operator]

    assert not any(char in line for char in UNSAFE), line
    assert "\\u001b]0;owned\\u0007" in line


def test_the_json_line_reads_back_as_the_event_published() -> None:
    published = {"type": "MemberAdded", "user_id": HOSTILE, "org_id": "acme"}

    line = json_line(received(json.dumps(published, indent=2).encode()))

    assert "\n" not in line
    assert json.loads(line) == published


def test_a_body_that_is_not_json_stays_on_its_line_escaped() -> None:
    line = json_line(received(b"not json\n\x1b[2J"))

    assert line == "not json\\u000a\\u001b[2J"
