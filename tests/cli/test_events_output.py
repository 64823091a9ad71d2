"""What ``docfleet events tail`` prints of an event: one line each, nothing a terminal would act on, even
for an event forged by another publisher on doc.events."""

from __future__ import annotations

import json

import pytest
import typer

from adapters.rabbitmq.subscription import ReceivedEvent
from workers.cli import events
from workers.cli.events import _binding_keys, json_line, one_line
from workers.stopping import SignalStop

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


def test_a_line_splits_back_into_its_fields_whatever_their_values() -> None:
    published = {
        "type": "FolderCreated",
        "occurred_at": "2026-05-01T12:00:00Z",
        "folder_id": "f-1",
        "name": 'Q3 "final" report=x',
        "parent_id": None,
        "version": 2,
        "tags": ["a b"],
        "a b=c": "v",
        "said": "null",
        "count": "2",
    }

    line = one_line(received(json.dumps(published).encode()))

    assert line == (
        '2026-05-01T12:00:00Z member.added type=MemberAdded folder_id=f-1 name="Q3 \\"final\\" report=x"'
        ' parent_id=null version=2 tags=["a b"] "a b=c"=v said="null" count="2"'
    )


@pytest.mark.parametrize(
    ("body", "shown"),
    [({"type": "MemberAdded"}, "type=MemberAdded"), ({}, "type=-"), ({"type": 7}, "type=7")],
)
def test_an_event_published_without_the_type_property_shows_its_body_s(
    body: dict[str, object], shown: str
) -> None:
    event = ReceivedEvent("member.added", "e1", None, "application/json", 2, json.dumps(body).encode())

    assert one_line(event).split(" ")[2] == shown


@pytest.mark.parametrize(
    "pattern",
    [
        "#",
        "*.*",
        "document.#",
        "document.shared.*",
        "command.rejected.delete_everything",
        "command.#.list_folder",
        "#.owner",
        "#.#.created",
        "member.added",
    ],
)
def test_a_pattern_that_matches_a_routing_key_docfleet_sends_is_taken(pattern: str) -> None:
    assert _binding_keys([pattern]) == [pattern]


def test_a_pattern_of_many_hashes_is_told_at_once_as_one_hash_would_be() -> None:
    hashes = ".".join(["#"] * 120)

    assert _binding_keys([f"{hashes}.member.added"]) == [f"{hashes}.member.added"]
    with pytest.raises(typer.BadParameter, match="matches no routing key docfleet sends"):
        _binding_keys([f"{hashes}.x.y"])


@pytest.mark.parametrize("pattern", ["bad pattern!!", "", "document..shared", "document.shared.*x", "doc.é"])
def test_what_is_not_a_pattern_is_refused_as_such(pattern: str) -> None:
    with pytest.raises(typer.BadParameter, match="is not a routing-key pattern"):
        _binding_keys([pattern])


@pytest.mark.parametrize(
    "pattern",
    ["*", "documents.#", "document.shared.admin", "command.rejected", "command.rejected.*.*", "*.*.*.*"],
)
def test_a_pattern_that_matches_no_routing_key_docfleet_sends_is_refused(pattern: str) -> None:
    with pytest.raises(typer.BadParameter, match="matches no routing key docfleet sends"):
        _binding_keys([pattern])


class _FallingBehind:
    """A tap with two events, between which RabbitMQ dropped some; then nothing."""

    def __init__(self) -> None:
        self._events = [
            received(b'{"type": "MemberAdded", "n": 1}'),
            received(b'{"type": "MemberAdded", "n": 2}'),
        ]
        self.drops = [True, False]

    def next_event(self, _timeout: float) -> ReceivedEvent | None:
        return self._events.pop(0) if self._events else None

    def events_dropped(self) -> bool | None:
        return self.drops.pop(0) if self.drops else False


def test_the_tail_says_on_stderr_that_events_were_dropped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(events, "_DROP_CHECK_S", 0.0)  # asks after each event
    stop = SignalStop()

    events._follow(_FallingBehind(), stop, 2, as_json=True)  # type: ignore[arg-type]

    out, err = capsys.readouterr()
    assert [json.loads(line)["n"] for line in out.splitlines()] == [1, 2]
    assert err.splitlines() == [events.DROPPED], "told once, on stderr, so that stdout stays the events"
