"""``docfleet bulk``: every line validated first, bad lines told by number with nothing sent, then
confirmed batches with progress and a summary."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.cli.support import bodies, ready_count, run
from tests.support.processes import free_port
from workers.cli import bulk_input
from workers.cli.bulk_input import LineRejected, lines, parse_line
from workers.settings import Settings

pytestmark = pytest.mark.integration


def write_lines(path: Path, lines: Sequence[object]) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def member(n: int) -> dict[str, object]:
    return {"actor": "add_member", "kwargs": {"org_id": "bulk-org", "user_id": f"user-{n}"}}


def test_a_few_thousand_lines_are_all_sent_with_a_summary(settings: Settings, tmp_path: Path) -> None:
    file = write_lines(tmp_path / "members.jsonl", [member(n) for n in range(3000)])

    result = run(settings, "bulk", str(file), "--batch-size", "200")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sent 3000, rejected 0, failed 0 in ")
    assert "messages/s" in result.stdout
    [progress] = [line for line in result.stderr.splitlines() if line.startswith("sending")]
    assert "3000/3000" in progress
    assert "msg/s" in progress
    assert ready_count(settings.amqp_url, "documents") == 3000


def test_bad_lines_are_told_by_number_and_nothing_is_sent(settings: Settings, tmp_path: Path) -> None:
    lines: list[object] = [
        member(1),
        "{not json",
        member(3),
        {"actor": "add_member", "kwargs": {"org_id": "a b"}},
    ]
    lines += ["", {"actor": "launch", "kwargs": {}}, member(7), {"actor": "add_member", "kwargs": {}, "x": 1}]
    file = write_lines(tmp_path / "mixed.jsonl", lines)

    result = run(settings, "bulk", str(file))

    assert result.exit_code == 2
    told = [line for line in result.stderr.splitlines() if not line.startswith("checking")]
    assert told[0].startswith("line 2: not JSON")
    assert told[1] == (
        "line 4: add_member: org_id: must be 1 to 128 characters, each a letter, a digit or one of _ . : -; "
        "user_id: is required"
    )
    assert told[2] == "line 6: launch: actor: there is no actor named 'launch'"
    assert told[3].startswith("line 8: unknown field 'x'")
    assert told[4] == "docfleet: 4 invalid lines: nothing sent (fix them, or pass --skip-invalid)"
    assert not ready_count(settings.amqp_url, "documents")


def test_skip_invalid_sends_the_valid_lines_and_exits_4(settings: Settings, tmp_path: Path) -> None:
    file = write_lines(tmp_path / "mixed.jsonl", [member(1), "[]", member(3)])

    result = run(settings, "bulk", str(file), "--skip-invalid")

    assert result.exit_code == 4
    assert "line 2: must be a JSON object" in result.stderr
    assert result.stdout.startswith("sent 2, rejected 1, failed 0 in ")
    assert [body["kwargs"]["user_id"] for body in bodies(settings.amqp_url, "documents")] == [
        "user-1",
        "user-3",
    ]


def test_given_message_ids_are_kept_and_a_repeated_one_is_rejected(
    settings: Settings, tmp_path: Path
) -> None:
    lines = [{**member(1), "message_id": "bulk-1"}, {**member(2), "message_id": "bulk-1"}]
    file = write_lines(tmp_path / "ids.jsonl", lines)

    rejected = run(settings, "bulk", str(file))
    sent = run(settings, "bulk", str(write_lines(tmp_path / "one.jsonl", lines[:1])))

    assert rejected.exit_code == 2
    assert "line 2: message_id: already given on line 1" in rejected.stderr
    assert sent.exit_code == 0, sent.output
    assert [body["message_id"] for body in bodies(settings.amqp_url, "documents")] == ["bulk-1"]


def test_a_missing_file_is_a_usage_error(settings: Settings, tmp_path: Path) -> None:
    result = run(settings, "bulk", str(tmp_path / "absent.jsonl"))

    assert result.exit_code == 2
    assert "does not exist" in result.stderr


@pytest.mark.parametrize(
    "raw",
    [
        b'{"actor": "add_member", "actor": "revoke_access", "kwargs": {"org_id": "o", "user_id": "u"}}',
        b'{"actor": "add_member", "kwargs": {"org_id": "o", "user_id": "x", "user_id": "y"}}',
        b'{"actor": "create_folder", "kwargs": {"folder_id": "f", "org_id": "o", "name": NaN}}',
    ],
)
def test_a_line_is_read_as_the_workers_read_a_message(raw: bytes) -> None:
    """A key repeated in one object, or NaN, would make the workers refuse the message: the line is
    refused first, rather than re-encoded into something else."""
    with pytest.raises(LineRejected) as rejected:
        parse_line(5, raw)
    assert rejected.value.number == 5
    assert rejected.value.why.startswith("not JSON")


def test_a_file_an_editor_started_with_a_byte_order_mark_is_read_as_without(tmp_path: Path) -> None:
    file = tmp_path / "bom.jsonl"
    file.write_bytes("\ufeff".encode() + (json.dumps(member(1)) + "\n").encode())

    assert [type(line).__name__ for line in lines(file)] == ["Line"]


def test_a_line_too_long_for_any_message_is_rejected_without_being_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file with no line breaks (a JSON array, the wrong file) must not be read into memory whole."""
    monkeypatch.setattr(bulk_input, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(bulk_input, "_READ_THROUGH", 100)
    file = tmp_path / "long.jsonl"
    file.write_text(json.dumps(member(1)) + "\n" + "x" * 5000 + "\n" + json.dumps(member(2)))
    sizes: list[int] = []

    found = list(lines(file, on_bytes=sizes.append))

    assert [type(item).__name__ for item in found] == ["Line", "LineRejected", "Line"]
    rejected = found[1]
    assert isinstance(rejected, LineRejected)
    assert (rejected.number, rejected.why) == (2, "5001 bytes long, over the 1000 bytes a message may take")
    assert sum(sizes) == file.stat().st_size


def test_a_query_is_not_a_line_of_a_bulk_file() -> None:
    with pytest.raises(LineRejected, match="list_folder is a query, whose answer nobody would read"):
        parse_line(1, b'{"actor": "list_folder", "kwargs": {"folder_id": "f", "requested_by": "u"}}')


def test_a_file_changed_between_its_check_and_its_send_is_an_error(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rewritten after the check, the same count of valid lines, but not the lines checked."""
    from workers.cli import bulk

    file = write_lines(tmp_path / "members.jsonl", [member(1), {"actor": "add_member", "kwargs": {}}])
    checked = bulk._checked

    def check_then_rewrite(path: Path) -> bulk_input.Scan:
        found = checked(path)
        write_lines(path, [{"actor": "add_member", "kwargs": {}}, member(2)])
        return found

    monkeypatch.setattr(bulk, "_checked", check_then_rewrite)

    result = run(settings, "bulk", str(file), "--skip-invalid")

    assert result.exit_code == 1
    assert "the file changed while it was sent" in result.stderr


def test_a_line_that_is_not_json_is_placed_by_its_column_alone() -> None:
    with pytest.raises(LineRejected) as rejected:
        parse_line(3, b'{"actor": "add_member", "kwargs": {"org_id": "o", "user_id": "u"}\n')
    assert rejected.value.why == "not JSON (Expecting ',' delimiter at column 66)"


def test_when_rabbitmq_is_lost_the_lines_not_taken_before_and_the_summary_are_still_told(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch has a line RabbitMQ did not take; the second is never confirmed."""
    from adapters.rabbitmq.queue_publisher import OutgoingMessage, Undelivered
    from workers.client import DocfleetClient, NotSent

    batches: list[int] = []

    def flaky(self: DocfleetClient, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        batches.append(len(messages))
        if len(batches) == 1:
            return [Undelivered(messages[1].message_id, "unroutable (test)")]
        raise NotSent("RabbitMQ at 127.0.0.1:5672/: connection lost (test)")

    monkeypatch.setattr(DocfleetClient, "send_prepared", flaky)
    file = write_lines(tmp_path / "members.jsonl", [member(n) for n in range(5)])

    result = run(settings, "bulk", str(file), "--batch-size", "2")

    assert result.exit_code == 1
    assert batches == [2, 2]
    assert result.stdout.startswith("sent 1, rejected 0, failed 1 in ")
    told = [line for line in result.stderr.splitlines() if line.startswith(("line", "docfleet:"))]
    assert told == [
        "line 2: unroutable (test)",
        "docfleet: stopped: lines 3 to 4 not confirmed, perhaps taken; nothing after them sent "
        "(1 sent before): "
        "RabbitMQ at 127.0.0.1:5672/: connection lost (test)",
    ]


def test_every_line_not_taken_is_told_the_first_one_by_one_the_others_in_runs(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines past the first few refused are needed too: without message ids, they are the ones to send
    again, and only they. RabbitMQ takes a line of each batch, so the send goes on to the end."""
    from adapters.rabbitmq.queue_publisher import OutgoingMessage, Undelivered
    from workers.client import DocfleetClient

    numbers: dict[str, int] = {}
    taken = {1, 2, 3, 4, 5, 15, 25, 35, 45, 55}

    def refusing(self: DocfleetClient, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        for message in messages:
            numbers[message.message_id] = len(numbers) + 1
        why = "refused by RabbitMQ (nack)"
        return [Undelivered(m.message_id, why) for m in messages if numbers[m.message_id] not in taken]

    monkeypatch.setattr(DocfleetClient, "send_prepared", refusing)
    file = write_lines(tmp_path / "members.jsonl", [member(n) for n in range(60)])

    result = run(settings, "bulk", str(file), "--batch-size", "10")

    assert result.exit_code == 4
    assert result.stdout.startswith("sent 10, rejected 0, failed 50 in ")
    told = [line for line in result.stderr.splitlines() if line.startswith(("line", "..."))]
    first = [*range(6, 15), *range(16, 25), 26, 27]
    assert told[:20] == [f"line {n}: refused by RabbitMQ (nack)" for n in first]
    assert told[20:] == ["lines 28 to 34, 36 to 44, 46 to 54, 56 to 60: refused by RabbitMQ (nack)"]


def test_a_batch_rabbitmq_took_none_of_stops_the_send(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue refusing every publish (full, with reject-publish) would refuse the rest of the file too:
    the lines after that batch are not sent, and the last line says from where to send again."""
    batches = _full_from_the_second_batch(monkeypatch)
    file = write_lines(tmp_path / "members.jsonl", [member(n) for n in range(9)])

    result = run(settings, "bulk", str(file), "--batch-size", "3")

    assert result.exit_code == 4
    assert batches == [3, 3]
    assert result.stdout.startswith("sent 3, rejected 0, failed 3 in ")
    told = [line for line in result.stderr.splitlines() if line.startswith(("line", "docfleet:"))]
    assert told == [
        "line 4: refused by RabbitMQ (nack)",
        "line 5: refused by RabbitMQ (nack)",
        "line 6: refused by RabbitMQ (nack)",
        "docfleet: stopped: RabbitMQ took none of the 3 lines sent from line 4 to 6, nothing after them "
        "sent (3 sent before): refused by RabbitMQ (nack)",
    ]


def test_a_last_batch_rabbitmq_took_none_of_is_told_line_by_line_without_a_stop(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing follows the last batch: its lines are told refused, and nothing is said to be stopped."""
    batches = _full_from_the_second_batch(monkeypatch)
    file = write_lines(tmp_path / "members.jsonl", [member(n) for n in range(5)])

    result = run(settings, "bulk", str(file), "--batch-size", "3")

    assert result.exit_code == 4
    assert batches == [3, 2]
    assert result.stdout.startswith("sent 3, rejected 0, failed 2 in ")
    told = [line for line in result.stderr.splitlines() if line.startswith(("line", "docfleet:"))]
    assert told == ["line 4: refused by RabbitMQ (nack)", "line 5: refused by RabbitMQ (nack)"]


def test_a_rabbitmq_never_reached_is_told_as_nothing_sent(settings: Settings, tmp_path: Path) -> None:
    """No connection, so no line can be in a queue: resending from the first is safe, ids or not."""
    file = write_lines(tmp_path / "members.jsonl", [member(n) for n in range(3)])
    nobody = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"

    result = run(settings, "bulk", str(file), "--batch-size", "2", AMQP_URL=nobody)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        "docfleet: stopped: nothing sent from line 1 on (0 sent before): "
    )


def test_a_file_that_can_be_read_only_once_is_sent_whole(settings: Settings, tmp_path: Path) -> None:
    """A pipe, as ``cat members.jsonl | docfleet bulk /dev/stdin`` gives: checked, then sent, all of it."""
    fifo = tmp_path / "members.pipe"
    os.mkfifo(fifo)
    lines = "".join(json.dumps(member(n)) + "\n" for n in range(30))
    writer = threading.Thread(target=fifo.write_text, args=(lines,))
    writer.start()

    result = run(settings, "bulk", str(fifo), "--batch-size", "8")
    writer.join(10)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sent 30, rejected 0, failed 0 in ")
    assert ready_count(settings.amqp_url, "documents") == 30


def test_an_interrupted_send_tells_which_lines_may_have_been_taken(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.rabbitmq.queue_publisher import OutgoingMessage, Undelivered
    from workers.client import DocfleetClient

    sent = DocfleetClient.send_prepared
    batches: list[int] = []

    def interrupted_second(self: DocfleetClient, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        batches.append(len(messages))
        delivered = sent(self, messages)
        if len(batches) == 2:
            raise KeyboardInterrupt  # as while waiting for the confirms: the batch is in the queue
        return delivered

    monkeypatch.setattr(DocfleetClient, "send_prepared", interrupted_second)
    file = write_lines(tmp_path / "members.jsonl", [member(n) for n in range(5)])

    result = run(settings, "bulk", str(file), "--batch-size", "2")

    assert result.exit_code == 130
    assert result.stdout.startswith("sent 2, rejected 0, failed 0 in ")
    assert (
        result.stderr.splitlines()[-1]
        == "docfleet: interrupted: lines 3 to 4 not confirmed, perhaps taken; nothing after them sent "
        "(2 sent before)"
    )
    assert ready_count(settings.amqp_url, "documents") == 4


def _full_from_the_second_batch(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """RabbitMQ takes the first batch whole and none of the others; the sizes of the batches sent."""
    from adapters.rabbitmq.queue_publisher import OutgoingMessage, Undelivered
    from workers.client import DocfleetClient

    batches: list[int] = []

    def full_from_the_second(self: DocfleetClient, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        batches.append(len(messages))
        if len(batches) == 1:
            return []
        return [Undelivered(message.message_id, "refused by RabbitMQ (nack)") for message in messages]

    monkeypatch.setattr(DocfleetClient, "send_prepared", full_from_the_second)
    return batches
