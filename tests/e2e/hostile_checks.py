"""What must hold of the fleet after a hostile message, and of what it logs and publishes about documents."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.e2e.hostile_messages import Hostile
from tests.e2e.hostile_probe import Before, Probe
from tests.support.waiting import wait_for

UNSAFE_IN_LOGS = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def check_log_line(hostile: Hostile, line: dict[str, Any]) -> None:
    text = json.dumps(line, ensure_ascii=False)
    if hostile.outcome == "refused":
        assert (line["outcome"], line["reason"]) == ("refused", hostile.says), text
    else:
        assert line["outcome"] == "invalid", text
        assert any(hostile.says in problem for problem in line["problems"]), text
    assert not UNSAFE_IN_LOGS.search(text), "a hostile character reached the log line"


def check_dead_letters(hostile: Hostile, probe: Probe, before: Before) -> None:
    if hostile.outcome == "dead_lettered":
        expected = before.dead_letters[hostile.queue] + 1
        wait_for(lambda: probe.queues.dead_letters(hostile.queue) == expected, what="dead letter")


def check_answer(hostile: Hostile, probe: Probe) -> str | None:
    """A query's answer, stored under the one key the contract gives it, which this returns."""
    if hostile.answer is None or hostile.message_id is None:
        return None
    answer = probe.cache.answer(hostile.message_id)
    if hostile.outcome == "refused":
        assert answer["error"]["reason"] == hostile.answer
        assert (answer["documents"], answer["next_cursor"]) == ([], None)
    else:
        assert answer["exn"]["type"] == hostile.answer
    return probe.cache.result_key(hostile.message_id)


def check_keys(probe: Probe, before: Before, answer_key: str | None) -> None:
    """No new Valkey key under the prefix, but the query's answer where there is one."""
    written = probe.cache.stored_keys() - before.keys
    assert answer_key is None or answer_key in written
    assert written <= {answer_key}


def check_writes(hostile: Hostile, probe: Probe, before: Before) -> None:
    """Nothing in the domain tables; the inbox row and the CommandRejected only where one is recorded."""
    after = probe.database.snapshot()
    assert after.domain == before.database.domain
    written = probe.database.outbox_since(before.database.last_seq)
    if hostile.rejected is None:
        assert written == []
        assert after.inbox_rows == before.database.inbox_rows
        return
    [rejection] = written
    assert (rejection["type"], rejection["reason"]) == ("CommandRejected", hostile.rejected)
    assert rejection["message_id"] == hostile.message_id
    assert after.inbox_rows == before.database.inbox_rows + 1
    assert probe.database.inbox_has(str(hostile.message_id))


def check_events(hostile: Hostile, events: list[dict[str, Any]]) -> None:
    """Only its CommandRejected, if one is recorded: published before the follow-up, in commit order."""
    assert all(event["type"] == "CommandRejected" for event in events), events
    expected = [hostile.message_id] if hostile.rejected else []
    assert [event["message_id"] for event in events] == expected


def check_metadata_only(
    lines: list[dict[str, Any]], events: list[dict[str, Any]], uploads: dict[str, dict[str, Any]]
) -> None:
    """Neither a log line nor an event says where a document's bytes are, nor its tags."""
    pointers = {kwargs["blob_uri"] for kwargs in uploads.values()}
    pointers |= {tag for kwargs in uploads.values() for tag in kwargs["tags"] if len(tag) > 3}
    logged = json.dumps(lines, ensure_ascii=False)
    published = json.dumps(events, ensure_ascii=False)
    assert [pointer for pointer in pointers if pointer in logged or pointer in published] == []
    assert not any({"blob_uri", "tags"} & event.keys() for event in events)
