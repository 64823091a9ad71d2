"""``docfleet dlq``: dead letters listed with their reason and left in place, shown, replayed, purged."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import pika
import pytest

from adapters.rabbitmq.dead_letters import DeadLetterQueues
from tests.cli.support import (
    bodies,
    encoded,
    envelope,
    is_member,
    one_line_error,
    publish_raw,
    ready_count,
    run,
)
from tests.conftest import IdMaker
from tests.support.processes import free_port
from tests.support.waiting import wait_for
from workers.cli import dlq_purge
from workers.settings import Settings

pytestmark = pytest.mark.integration
TRACEBACK = "Traceback (most recent call last):\n  ...\npsycopg.OperationalError: connection refused\n"


def dead_letters(settings: Settings, queue: str = "documents.XQ") -> list[dict[str, Any]]:
    result = run(settings, "dlq", "ls", "--json")
    assert result.exit_code == 0, result.output
    listed: dict[str, list[dict[str, Any]]] = json.loads(result.stdout)
    return listed[queue]


def replay_cell(table: str, message_id: str) -> str:
    """The replay column of the row of ``message_id`` in ``dlq ls``'s table."""
    [row] = [line for line in table.splitlines() if line.startswith(f" {message_id} ")]
    columns = [cell.strip() for cell in row.split("│")]
    return columns[4]


def two_dead_letters(settings: Settings, org: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An invalid command, dead-lettered by the worker, and a command dead-lettered after faults (put
    straight into documents.XQ, as Dramatiq leaves one after its last retry)."""
    invalid = envelope("add_member", {"org_id": "not an id", "user_id": "alice"})
    faulted = envelope("add_member", {"org_id": org, "user_id": "bob"}, retries=20, traceback=TRACEBACK)
    publish_raw(settings.amqp_url, "documents", encoded(invalid))
    publish_raw(settings.amqp_url, "documents.XQ", encoded(faulted))
    wait_for(lambda: ready_count(settings.amqp_url, "documents.XQ") == 2, what="two dead letters")
    return invalid, faulted


def test_a_round_trip_through_a_worker(settings: Settings, worker: None, new_id: IdMaker) -> None:
    org = new_id("org")
    invalid, faulted = two_dead_letters(settings, org)

    listed = {letter["message_id"]: letter for letter in dead_letters(settings)}
    table = run(settings, "dlq", "ls").stdout
    assert [replay_cell(table, letter["message_id"]) for letter in (invalid, faulted)] == ["no", "yes"]
    assert listed[invalid["message_id"]]["reason"].startswith("invalid: org_id: must be 1 to 128 characters")
    assert listed[faulted["message_id"]]["reason"] == (
        "failed after 20 retries, last: psycopg.OperationalError: connection refused"
    )
    assert ready_count(settings.amqp_url, "documents.XQ") == 2  # listing left them in place

    shown = json.loads(run(settings, "dlq", "show", faulted["message_id"]).stdout)
    assert (shown["replayable"], shown["body"]["kwargs"]) == (True, faulted["kwargs"])

    replayed = run(settings, "dlq", "replay", "--all")
    assert replayed.exit_code == 0, "all that could go back went: the invalid one is told, not a failure"
    assert f"replayed {faulted['message_id']} (add_member) to documents" in replayed.stdout
    assert f"left {invalid['message_id']}: message id already used (invalid: org_id" in replayed.stderr
    assert "1 replayed, 1 left, 0 not found" in replayed.stdout
    wait_for(lambda: is_member(settings.database_url, org, "bob"), what="the replayed command applied")
    assert [letter["message_id"] for letter in dead_letters(settings)] == [invalid["message_id"]]

    refused = run(settings, "dlq", "purge")
    assert refused.exit_code == 2
    told = re.search(
        r"this deletes 1 dead letter for good: pass --yes \(and --expect (1:[0-9a-f]{8})\)$",
        one_line_error(refused),
    )
    assert told is not None, refused.stderr
    outdated = run(settings, "dlq", "purge", "--yes", "--expect", "2")
    assert outdated.exit_code == 1
    assert "the dead letters are 1 now, not 2: nothing deleted" in one_line_error(outdated)
    assert ready_count(settings.amqp_url, "documents.XQ") == 1
    purged = run(settings, "dlq", "purge", "--yes", "--expect", told[1])
    assert "purged 1 from documents.XQ" in purged.stdout
    assert ready_count(settings.amqp_url, "documents.XQ") == 0


def test_purge_with_expect_deletes_only_the_dead_letters_it_counted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One that arrives between the count and the deletion is left: it was not seen."""
    seen, late = (
        envelope("add_member", {"org_id": "acme", "user_id": user}, retries=20, traceback=TRACEBACK)
        for user in ("bob", "carol")
    )
    publish_raw(settings.amqp_url, "documents.XQ", encoded(seen))
    count = DeadLetterQueues.count

    arrived: list[bool] = []

    def count_then_one_arrives(queues: DeadLetterQueues, queue: str) -> int | None:
        ready = count(queues, queue)
        if queue == "documents.XQ" and not arrived:
            arrived.append(True)
            publish_raw(settings.amqp_url, queue, encoded(late))
            wait_for(lambda: count(queues, queue) == (ready or 0) + 1, what="the late dead letter")
        return ready

    monkeypatch.setattr(DeadLetterQueues, "count", count_then_one_arrives)
    purged = run(settings, "dlq", "purge", "--yes", "--expect", "1")
    monkeypatch.undo()

    assert purged.exit_code == 0, purged.output
    assert "purged 1 from documents.XQ" in purged.stdout
    assert [body["message_id"] for body in bodies(settings.amqp_url, "documents.XQ")] == [late["message_id"]]


def test_purge_with_a_fingerprint_deletes_nothing_once_the_letters_changed_at_the_same_count(
    settings: Settings,
) -> None:
    """The oldest letter expires and a new one arrives between the look and the purge: the count is the
    same, the letters are not, and the new one was never seen."""
    expiring, kept, late = (
        envelope("add_member", {"org_id": "acme", "user_id": user}, retries=20, traceback=TRACEBACK)
        for user in ("bob", "carol", "dave")
    )
    _publish_expiring(settings.amqp_url, "documents.XQ", encoded(expiring), expiration_ms=1500)
    publish_raw(settings.amqp_url, "documents.XQ", encoded(kept))
    looked = run(settings, "dlq", "purge", "--queue", "documents")
    token = one_line_error(looked).rsplit("--expect ", 1)[1].rstrip(")")
    wait_for(lambda: ready_count(settings.amqp_url, "documents.XQ") == 1, what="the oldest letter expired")
    publish_raw(settings.amqp_url, "documents.XQ", encoded(late))

    refused = run(settings, "dlq", "purge", "--queue", "documents", "--yes", "--expect", token)

    assert refused.exit_code == 1
    assert f"not {token}: nothing deleted" in one_line_error(refused)
    left = [body["message_id"] for body in bodies(settings.amqp_url, "documents.XQ")]
    assert left == [kept["message_id"], late["message_id"]]
    assert run(settings, "dlq", "purge", "--queue", "documents", "--yes", "--expect", "2").exit_code == 0
    assert ready_count(settings.amqp_url, "documents.XQ") == 0


def test_purge_with_a_fingerprint_sees_a_letter_replayed_from_the_middle_while_another_arrived(
    settings: Settings,
) -> None:
    replayable, late = (
        envelope("add_member", {"org_id": "acme", "user_id": user}, retries=20, traceback=TRACEBACK)
        for user in ("carol", "dave")
    )
    publish_raw(settings.amqp_url, "documents.XQ", b"not an envelope", encoded(replayable))
    token = one_line_error(run(settings, "dlq", "purge", "--queue", "documents")).rsplit("--expect ", 1)[1]
    assert run(settings, "dlq", "replay", "--all", "--queue", "documents").exit_code == 0  # one left, told
    publish_raw(settings.amqp_url, "documents.XQ", encoded(late))

    refused = run(settings, "dlq", "purge", "--queue", "documents", "--yes", "--expect", token.rstrip(")"))

    assert refused.exit_code == 1, refused.output
    assert ready_count(settings.amqp_url, "documents.XQ") == 2


def test_purge_takes_the_letters_to_fingerprint_them_only_when_asked_and_not_too_many(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    letters = [envelope("add_member", {"org_id": "acme", "user_id": f"u{n}"}, retries=20) for n in range(3)]
    publish_raw(settings.amqp_url, "documents.XQ", *(encoded(letter) for letter in letters))
    monkeypatch.setattr(dlq_purge, "FINGERPRINT_MAX_LETTERS", 2)

    looked = run(settings, "dlq", "purge", "--queue", "documents")
    assert one_line_error(looked).endswith("pass --yes (and --expect 3)")

    def no_fingerprint(_queues: DeadLetterQueues, _queue: str) -> str:
        raise AssertionError("no fingerprint was asked for")

    monkeypatch.setattr(DeadLetterQueues, "digest", no_fingerprint)
    by_count = run(settings, "dlq", "purge", "--queue", "documents", "--yes", "--expect", "1")
    assert "the dead letters are 3 now, not 1: nothing deleted" in one_line_error(by_count)
    assert run(settings, "dlq", "purge", "--queue", "documents", "--yes").exit_code == 0
    assert ready_count(settings.amqp_url, "documents.XQ") == 0


@pytest.mark.parametrize("expect", ["two", "2:XYZ", "-1", "2:5f1c2a9e0"])
def test_purge_refuses_an_expectation_it_cannot_read(settings: Settings, expect: str) -> None:
    result = run(settings, "dlq", "purge", "--yes", "--expect", expect)

    assert result.exit_code == 2
    assert "give N:FINGERPRINT as `dlq purge` tells it, or N" in one_line_error(result)


def _publish_expiring(amqp_url: str, queue: str, body: bytes, *, expiration_ms: int) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        properties = pika.BasicProperties(content_type="application/json", expiration=str(expiration_ms))
        connection.channel().basic_publish("", queue, body, properties)
    finally:
        connection.close()


def test_replay_strips_retry_bookkeeping_and_keeps_the_message_id(settings: Settings) -> None:
    faulted = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=3, traceback=TRACEBACK)
    publish_raw(settings.amqp_url, "documents.XQ", encoded(faulted))

    replayed = run(settings, "dlq", "replay", faulted["message_id"])

    assert replayed.exit_code == 0, replayed.output
    [sent] = bodies(settings.amqp_url, "documents")
    assert sent == {**faulted, "options": {}}
    assert ready_count(settings.amqp_url, "documents.XQ") == 0


def test_a_replay_starts_the_messages_redelivery_count_again(settings: Settings) -> None:
    """Left at its count, one ordinary redelivery (a restart) would dead-letter it again, unrun."""
    from adapters.valkey.client import connect
    from adapters.valkey.redeliveries import RedeliveryCounter

    letter = envelope("add_member", {"org_id": "acme", "user_id": "bob"})
    publish_raw(settings.amqp_url, "documents.XQ", encoded(letter))
    with connect(settings.valkey_url) as client:
        counter = RedeliveryCounter(client, settings.cache_prefix)
        for _ in range(6):
            counter.count(letter["message_id"])
        listed = dead_letters(settings)

        replayed = run(settings, "dlq", "replay", letter["message_id"])

        assert replayed.exit_code == 0, replayed.output
        assert listed[0]["reason"].startswith("redelivered 6 times after the worker")
        assert counter.counted(letter["message_id"]) == 0


def test_two_copies_of_one_message_are_replayed_once(settings: Settings) -> None:
    """Two dead letters with one message id: a replay whose ack was lost, or a message sent twice that
    failed twice. One copy goes back, the other stays, told why."""
    faulted = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=20, traceback=TRACEBACK)
    for _ in range(2):
        publish_raw(settings.amqp_url, "documents.XQ", encoded(faulted))

    replayed = run(settings, "dlq", "replay", faulted["message_id"])

    assert replayed.exit_code == 4, replayed.output
    assert "1 replayed, 1 left, 0 not found" in replayed.stdout
    assert f"left {faulted['message_id']}: another dead letter with this message id" in replayed.stderr
    assert [body["message_id"] for body in bodies(settings.amqp_url, "documents")] == [faulted["message_id"]]
    assert ready_count(settings.amqp_url, "documents.XQ") == 1


def test_a_replay_that_fails_part_way_tells_which_went_back(settings: Settings) -> None:
    command = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=3, traceback=TRACEBACK)
    query = envelope("list_folder", {"folder_id": "f", "requested_by": "bob"}, "documents-queries", retries=3)
    publish_raw(settings.amqp_url, "documents.XQ", encoded(command))
    publish_raw(settings.amqp_url, "documents-queries.XQ", encoded(query))
    connection = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    try:
        connection.channel().queue_delete("documents-queries")  # the query's copy has nowhere to go
    finally:
        connection.close()

    replayed = run(settings, "dlq", "replay", "--all")

    assert replayed.exit_code == 1
    assert f"replayed {command['message_id']} (add_member) to documents" in replayed.stdout
    assert ready_count(settings.amqp_url, "documents.XQ") == 0
    assert ready_count(settings.amqp_url, "documents-queries.XQ") == 1, "the one that failed stays"


def test_show_without_postgres_does_not_call_a_message_replayable(settings: Settings) -> None:
    faulted = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=3, traceback=TRACEBACK)
    publish_raw(settings.amqp_url, "documents.XQ", encoded(faulted))
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/docfleet"

    shown = run(settings, "dlq", "show", faulted["message_id"], DATABASE_URL=unreachable)

    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["replayable"] is None
    assert "recorded rejections are not shown" in shown.stderr


def test_a_dead_letter_holding_a_lone_surrogate_is_shown_as_json(settings: Settings) -> None:
    """JSON lets a string escape half a surrogate pair, which UTF-8 cannot encode as it is."""
    hostile = envelope(
        "add_member", {"org_id": "acme", "user_id": "bob\ud800"}, retries=3, traceback=TRACEBACK
    )
    publish_raw(settings.amqp_url, "documents.XQ", encoded(hostile))

    shown = run(settings, "dlq", "show", hostile["message_id"])

    assert shown.exit_code == 0, shown.output
    assert "\\ud800" in shown.stdout
    assert json.loads(shown.stdout)["body"]["kwargs"]["user_id"] == "bob\ud800"
    for listing in (run(settings, "dlq", "ls"), run(settings, "dlq", "ls", "--json")):
        assert listing.exit_code == 0, listing.output


def test_a_dead_letter_cannot_drive_the_terminal_of_whoever_lists_it(settings: Settings) -> None:
    """A traceback is read from the letter's body, which any publisher can write: its escapes would set
    the terminal's title, clear the screen and print text of the attacker's choosing."""
    forged = "Traceback (most recent call last):\nError: \x1b]0;owned\x07\x1b[2J\x1b[31mOK\u202e\x9b"
    hostile = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=20, traceback=forged)
    publish_raw(settings.amqp_url, "documents.XQ", encoded(hostile))

    listings = [
        run(settings, "dlq", "ls"),
        run(settings, "dlq", "ls", "--json"),
        run(settings, "dlq", "show", hostile["message_id"]),
    ]

    for listing in listings:
        assert listing.exit_code == 0, listing.output
        assert not any(char in listing.stdout for char in "\x1b\x07\x9b\u202e"), listing.stdout
    assert "\\u001b]0;owned\\u0007\\u001b[2J" in listings[0].stdout


def test_unreadable_and_unknown_dead_letters(settings: Settings) -> None:
    query = envelope(
        "list_folder", {"folder_id": "f", "requested_by": "bob", "limit": 0}, "documents-queries"
    )
    publish_raw(settings.amqp_url, "documents.XQ", b"\xff not json")
    publish_raw(settings.amqp_url, "documents-queries.XQ", encoded(query))

    commands, queries = dead_letters(settings), dead_letters(settings, "documents-queries.XQ")
    replayed = run(settings, "dlq", "replay", query["message_id"], "no-such-id")
    missing = run(settings, "dlq", "show", "no-such-id")

    assert [(letter["message_id"], letter["reason"]) for letter in commands] == [
        (None, "unreadable: body: is not UTF-8 text")
    ]
    assert queries[0]["reason"].startswith("invalid: limit: input should be greater than or equal to 1")
    assert replayed.exit_code == 4
    assert f"left {query['message_id']}: invalid: limit" in replayed.stderr
    assert "not found: no-such-id" in replayed.stderr
    assert missing.exit_code == 1
    assert "no dead letter named 'no-such-id'" in one_line_error(missing)
    assert ready_count(settings.amqp_url, "documents.XQ") == 1
    assert ready_count(settings.amqp_url, "documents-queries.XQ") == 1


def test_replay_needs_ids_or_all_but_not_both(settings: Settings) -> None:
    neither, both = run(settings, "dlq", "replay"), run(settings, "dlq", "replay", "x", "--all")

    assert (neither.exit_code, both.exit_code) == (2, 2)
    assert "by message id, or pass --all" in one_line_error(neither)


@pytest.mark.parametrize("command", [("dlq", "ls"), ("events", "tail", "--count", "1")])
def test_a_rabbitmq_that_fails_the_handshake_is_one_line_exit_1(
    settings: Settings, command: tuple[str, ...]
) -> None:
    """TLS against the plain listener: pika raises an error of the TLS library's, not one of its own."""
    tls_to_plain = "amqps://" + settings.amqp_url.split("://", 1)[1]
    separator = "&" if "?" in tls_to_plain else "?"

    result = run(settings, *command, AMQP_URL=f"{tls_to_plain}{separator}connection_attempts=1")

    assert result.exit_code == 1
    assert "RabbitMQ at 127.0.0.1:" in one_line_error(result)


def _spend(
    database_url: str, message_id: str, *, rejected_as: str | None = None, by: str | None = None
) -> None:
    """The message id's inbox row, as its outcome leaves it (``by``: the fingerprint of the command that
    spent it), and its CommandRejected if ``rejected_as``."""
    from sqlalchemy import insert

    from adapters.postgres.engine import create_single_use_engine
    from adapters.postgres.tables import inbox, outbox

    engine = create_single_use_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(inbox).values(message_id=message_id, fingerprint=by))
            if rejected_as is not None:
                payload = {
                    "message_id": message_id,
                    "actor": "add_member",
                    "reason": rejected_as,
                    "detail": "x",
                }
                event = {
                    "event_id": str(uuid.uuid4()),
                    "type": "CommandRejected",
                    "routing_key": "command.rejected",
                }
                connection.execute(insert(outbox).values(**event, payload=payload))
    finally:
        engine.dispose()


def test_a_letter_not_found_after_its_retries_goes_back_under_a_new_id_only_when_asked(
    settings: Settings,
) -> None:
    """Its folder made since, it is valid as it is, but its rejection spent its id."""
    letter = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=8, traceback=TRACEBACK)
    invalid = envelope("add_member", {"org_id": "not an id", "user_id": "bob"})
    applied = envelope("add_member", {"org_id": "acme", "user_id": "carol"}, retries=20, traceback=TRACEBACK)
    _spend(settings.database_url, letter["message_id"], rejected_as="not_found")
    _spend(settings.database_url, invalid["message_id"], rejected_as="invalid")
    _spend(settings.database_url, applied["message_id"])  # a second copy of a command that was applied
    for dead in (letter, invalid, applied):
        publish_raw(settings.amqp_url, "documents.XQ", encoded(dead))
    ids = [dead["message_id"] for dead in (letter, invalid, applied)]

    listed = {item["message_id"]: item["new_id"] for item in dead_letters(settings)}
    table = run(settings, "dlq", "ls").stdout
    kept = run(settings, "dlq", "replay", letter["message_id"])
    renewed = run(settings, "dlq", "replay", "--new-id", *ids)

    assert kept.exit_code == 4
    assert "send it again with a new message id (dlq replay --new-id)" in kept.stderr
    assert renewed.exit_code == 4, "the invalid one and the applied one stay"
    [sent] = bodies(settings.amqp_url, "documents")
    assert sent["message_id"] != letter["message_id"]
    assert listed == {
        letter["message_id"]: sent["message_id"],
        invalid["message_id"]: None,
        applied["message_id"]: None,
    }
    assert [replay_cell(table, message_id) for message_id in ids] == ["--new-id", "no", "no"]
    renewed_fields = {"message_id": sent["message_id"], "message_timestamp": sent["message_timestamp"]}
    assert sent == {**letter, **renewed_fields, "options": {}}
    assert sent["message_timestamp"] > letter["message_timestamp"]
    assert (
        f"replayed {letter['message_id']} as {sent['message_id']} (add_member) to documents" in renewed.stdout
    )
    assert f"left {invalid['message_id']}: message id already used (invalid: x): fix it" in renewed.stderr
    assert f"left {applied['message_id']}: message id already used (failed after 20" in renewed.stderr
    assert [item["message_id"] for item in dead_letters(settings)] == ids[1:]


def test_a_letter_sent_again_under_a_new_id_twice_is_the_same_new_command(settings: Settings) -> None:
    """A replay whose removal of the letter was lost leaves it in place: the next one sends a duplicate."""
    letter = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=8, traceback=TRACEBACK)
    _spend(settings.database_url, letter["message_id"], rejected_as="not_found")
    for _ in range(2):
        publish_raw(settings.amqp_url, "documents.XQ", encoded(letter))
        assert run(settings, "dlq", "replay", "--new-id", letter["message_id"]).exit_code == 0

    first, second = bodies(settings.amqp_url, "documents")
    assert first["message_id"] == second["message_id"] != letter["message_id"]


def test_the_commands_another_command_kept_from_running_go_back_under_new_ids_and_its_copy_stays(
    settings: Settings,
) -> None:
    """Under one id: a copy of the command that spent it (it ran), and two other commands that never
    ran. Each of those two goes back under an id of its own; neither is taken for a copy of the other."""
    from domain.commands import AddMember, fingerprint

    applied = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=20, traceback=TRACEBACK)
    message_id = applied["message_id"]
    others = [
        {**envelope("add_member", {"org_id": "acme", "user_id": user}), "message_id": message_id}
        for user in ("carol", "dave")
    ]
    by = fingerprint(AddMember(org_id="acme", user_id="bob"))
    _spend(settings.database_url, message_id, rejected_as="message_id_reused", by=by)
    for dead in (applied, *others):
        publish_raw(settings.amqp_url, "documents.XQ", encoded(dead))

    renewed = run(settings, "dlq", "replay", "--new-id", message_id)

    assert renewed.exit_code == 4, "the applied command's copy stays"
    sent = bodies(settings.amqp_url, "documents")
    assert sorted(body["kwargs"]["user_id"] for body in sent) == ["carol", "dave"]
    assert len({body["message_id"] for body in sent} | {message_id}) == 3
    [left] = dead_letters(settings)
    assert left["message_id"] == message_id
    assert left["reason"].startswith("failed after 20 retries"), "not the other commands' rejection"


def test_ls_counts_the_letters_before_browsing_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Browsed letters go back to their queue a moment after the browse: a count read then misses them."""
    for user in ("bob", "carol", "dave", "erin", "frank"):
        faulted = envelope("add_member", {"org_id": "acme", "user_id": user}, retries=20, traceback=TRACEBACK)
        publish_raw(settings.amqp_url, "documents.XQ", encoded(faulted))
    wait_for(lambda: ready_count(settings.amqp_url, "documents.XQ") == 5, what="five dead letters")
    browse, count = DeadLetterQueues.browse, DeadLetterQueues.count
    browsing: set[str] = set()

    def browsed(queues: DeadLetterQueues, queue: str, **options: Any) -> Any:
        browsing.add(queue)
        return browse(queues, queue, **options)

    def counted(queues: DeadLetterQueues, queue: str) -> int | None:
        return 0 if queue in browsing else count(queues, queue)  # as when none is back yet

    monkeypatch.setattr(DeadLetterQueues, "browse", browsed)
    monkeypatch.setattr(DeadLetterQueues, "count", counted)
    listed = run(settings, "dlq", "ls", "--queue", "documents", "--limit", "2")

    assert listed.exit_code == 0, listed.output
    assert "documents.XQ: 5" in listed.stdout
    assert "(the first 2 of 5: --limit to see more)" in listed.stdout


def test_a_letter_without_a_readable_id_is_listed_shown_and_purged_by_its_body_digest(
    settings: Settings,
) -> None:
    unreadable, other = b"\xff not json", b"{not json either"
    [producers_id, _] = publish_raw(settings.amqp_url, "documents.XQ", unreadable, other)
    digest = hashlib.sha256(unreadable).hexdigest()
    name = f"sha256:{digest[:16]}"

    table = run(settings, "dlq", "ls", "--queue", "documents")
    [listed, _] = dead_letters(settings)
    shown = run(settings, "dlq", "show", name)
    asked = run(settings, "dlq", "purge", name)
    purged = run(settings, "dlq", "purge", "--yes", name)

    assert name in table.stdout
    assert (listed["message_id"], listed["body_sha256"]) == (None, digest)
    assert listed["amqp_message_id"] == producers_id
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["body"] == "\ufffd not json"
    assert json.loads(shown.stdout)["amqp_message_id"] == producers_id
    assert asked.exit_code == 2
    assert "this deletes 1 dead letter for good: pass --yes" in one_line_error(asked)
    assert purged.exit_code == 0, purged.output
    assert "purged 1 from documents.XQ" in purged.stdout
    with DeadLetterQueues(settings.amqp_url, name="test-probe") as queues:
        assert [letter.body for letter in queues.browse("documents.XQ")] == [other]


def test_purge_deletes_every_copy_of_the_named_ids_only_and_says_which_found_none(settings: Settings) -> None:
    named, kept = (envelope("add_member", {"org_id": "acme", "user_id": u}, retries=20) for u in "ab")
    publish_raw(settings.amqp_url, "documents.XQ", encoded(named), encoded(kept), encoded(named))

    result = run(settings, "dlq", "purge", "--yes", named["message_id"], "no-such-id")

    assert result.exit_code == 4
    assert "purged 2 from documents.XQ" in result.stdout
    assert "not found: no-such-id" in result.stderr
    assert [letter["message_id"] for letter in bodies(settings.amqp_url, "documents.XQ")] == [
        kept["message_id"]
    ]


@pytest.mark.parametrize(
    ("args", "told"),
    [
        (("x" * 129,), "neither a message id nor sha256: and 12 to 64 hex digits"),
        (("a b",), "neither a message id nor sha256:"),
        (("m1", "--expect", "1"), "--expect is for deleting every dead letter"),
    ],
)
def test_purge_by_name_refuses_what_names_no_letter_and_deletes_nothing(
    settings: Settings, args: tuple[str, ...], told: str
) -> None:
    publish_raw(settings.amqp_url, "documents.XQ", b"\xff not json")

    result = run(settings, "dlq", "purge", "--yes", *args)

    assert result.exit_code == 2
    assert told in one_line_error(result)
    assert ready_count(settings.amqp_url, "documents.XQ") == 1


def test_one_of_two_letters_under_one_id_is_shown_and_purged_alone_by_its_digest(settings: Settings) -> None:
    first = envelope("add_member", {"org_id": "acme", "user_id": "ann"}, retries=20)
    second = {**first, "kwargs": {"org_id": "acme", "user_id": "bea"}}  # another command, the same id
    publish_raw(settings.amqp_url, "documents.XQ", encoded(first), encoded(second))
    digest = hashlib.sha256(encoded(second)).hexdigest()

    shown = run(settings, "dlq", "show", f"sha256:{digest}")
    listed = run(settings, "dlq", "purge", first["message_id"], f"sha256:{digest[:12]}", "no-such-id")
    purged = run(settings, "dlq", "purge", "--yes", f"sha256:{digest[:12]}")

    assert json.loads(shown.stdout)["body"]["kwargs"]["user_id"] == "bea"
    assert listed.exit_code == 2  # without --yes: listed, nothing deleted, the name that found none told
    assert "this deletes 2 dead letters for good: pass --yes" in listed.stderr
    assert listed.stdout.count(f"documents.XQ {first['message_id']} sha256:") == 2
    assert "not found: no-such-id" in listed.stderr
    assert purged.exit_code == 0, purged.output
    assert [letter["kwargs"]["user_id"] for letter in bodies(settings.amqp_url, "documents.XQ")] == ["ann"]
