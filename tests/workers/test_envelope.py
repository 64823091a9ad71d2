"""The envelope encoder: JSON only, a strict envelope, oversized bodies marked; and the consumer screen."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dramatiq
import pytest
from dramatiq.common import current_millis
from structlog.testing import capture_logs

from workers.contract import MAX_MESSAGE_BYTES
from workers.middleware.envelope import (
    OVERSIZE_OPTION,
    READ_LIMIT_BYTES,
    EnvelopeEncoder,
    UnreadableMessage,
)
from workers.middleware.retries import NOT_FOUND_RETRIES_OPTION
from workers.middleware.screening import RejectUnreadable, screen


def admit(body: bytes, consumed_from: str, reject: RejectUnreadable | None = None) -> bool:
    """As the consumer screens a delivery: whether it may go to the workers; if not, its rejection
    recorded where its envelope names a message id and an actor, then its line logged."""
    unadmitted = screen(body, consumed_from)
    if unadmitted is not None:
        unadmitted.tell(unadmitted.record(reject))
    return unadmitted is None


ENVELOPE: dict[str, Any] = {
    "queue_name": "documents",
    "actor_name": "add_member",
    "args": [],
    "kwargs": {"org_id": "acme", "user_id": "alice"},
    "options": {},
    "message_id": "6f1c0c4e-8a4e-4a8e-9c61-1f1f0e0d2b7a",
    "message_timestamp": 1714566600000,
}


def body(**changes: Any) -> bytes:
    return json.dumps({**ENVELOPE, **changes}).encode()


def test_a_well_formed_envelope_decodes_unchanged() -> None:
    assert EnvelopeEncoder().decode(body()) == ENVELOPE


@pytest.mark.parametrize("written", [b"1714566600000.0", b"1.7145666e12", b"17145666e5"])
def test_a_whole_number_written_with_a_fraction_or_an_exponent_is_that_integer(written: bytes) -> None:
    """As JSON Schema reads ``integer``: a producer whose encoder writes 1e12 or 5.0 is not refused."""
    data = body().replace(b"1714566600000", written)

    decoded = EnvelopeEncoder().decode(data)

    assert decoded["message_timestamp"] == 1714566600000
    assert type(decoded["message_timestamp"]) is int


@pytest.mark.parametrize("written", [b"1714566600000.5", b"1e300"])
def test_a_number_that_is_not_a_whole_one_is_still_not_an_integer(written: bytes) -> None:
    with pytest.raises(UnreadableMessage, match="message_timestamp: input should be a valid integer"):
        EnvelopeEncoder().decode(body().replace(b"1714566600000", written))


def test_bodies_read_by_many_threads_at_once_each_decode_as_their_own() -> None:
    """One JSON decoder serves every thread (``workers.contract.load_json``): bodies read at the same
    time never mix, and a repeated key is still caught in each."""

    def read(thread: int) -> list[str]:
        org_ids = []
        for index in range(300):
            data = body(kwargs={"org_id": f"org-{thread}-{index}", "user_id": "alice"})
            org_ids.append(EnvelopeEncoder().decode(data)["kwargs"]["org_id"])
            with pytest.raises(UnreadableMessage, match="a key appears twice"):
                EnvelopeEncoder().decode(data[:-1] + b', "kwargs": {}}')
        return org_ids

    with ThreadPoolExecutor(max_workers=8) as pool:
        read_by_thread = list(pool.map(read, range(8)))

    assert read_by_thread == [[f"org-{thread}-{index}" for index in range(300)] for thread in range(8)]


def test_a_message_encoded_by_dramatiq_decodes_again_with_its_retry_bookkeeping() -> None:
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents.DQ",
        actor_name="add_member",
        args=(),
        kwargs={"org_id": "acme", "user_id": "\u00e9\U0001f4c4"},
        options={
            "retries": 2,
            "traceback": "Traceback ...",
            "requeue_timestamp": 1,
            "eta": 2,
            NOT_FOUND_RETRIES_OPTION: 1,
        },
    )
    encoder = EnvelopeEncoder()
    assert encoder.decode(encoder.encode(message.asdict())) == {**message.asdict(), "args": []}


UNREADABLE: list[tuple[bytes, str]] = [
    (b"\xff\xfe not utf-8", "body: is not UTF-8 text"),
    (b"", "body: is not JSON"),
    (b"{not json", "body: is not JSON"),
    (b"\xef\xbb\xbf" + body(), "body: is not JSON: it starts with a byte order mark (EF BB BF)"),
    (b'["documents", "add_member"]', "body: must be a JSON object"),
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'{"a": 1e400}', "number out of range: 1e400"),
    (b"[" * 100_000 + b"]" * 100_000, "body: is not JSON"),
    (body()[:-1] + b', "kwargs": {}}', "a key appears twice"),
    (body(kwargs={"org_id": "acme"}).replace(b'"acme"', b'"acme", "org_id": "evil"'), "a key appears twice"),
    (body(queue_name="default"), "queue_name: input should be"),
    (body(actor_name="add.member"), "actor_name:"),
    (body(actor_name="a" * 65), "actor_name:"),
    (body(actor_name=7), "actor_name: input should be a valid string, not a number"),
    (body(args={"0": "acme"}), "args: input should be a valid list"),
    (body(kwargs=["acme", "alice"]), "kwargs: input should be a valid dictionary"),
    (body(options={"throws": "x"}), "options.throws: is not a field"),
    (body(options={"pipe_target": {}}), "options.pipe_target: is not a field"),
    (body(options={"pipe_ignore": True}), "options.pipe_ignore: is not a field"),
    (body(options={"on_success": "add_member"}), "options.on_success: is not a field"),
    (body(options={"on_failure": "add_member"}), "options.on_failure: is not a field"),
    (body(options={"max_age": 1}), "options.max_age: is not a field"),
    (body(options={"max_retries": 100}), "options.max_retries: is not a field"),
    (body(options={"retries": "3"}), "options.retries: input should be a valid integer"),
    (body(options={"retries": -1}), "options.retries: input should be greater than or equal to 0"),
    (
        body(options={"docfleet_not_found_retries": -1}),
        "options.docfleet_not_found_retries: input should be greater than or equal to 0",
    ),
    (
        body(options={"docfleet_not_found_retries": 1_000}),  # would let a fault be retried 1,020 times
        "options: docfleet_not_found_retries must not exceed retries",
    ),
    (body(options={"retries": 2**53 + 1}), "options.retries: input should be less than or equal to"),
    (body(options={"eta": int("9" * 4300)}), "options.eta: input should be less than or equal to"),
    (body(options={"eta": -1}), "options.eta: input should be greater than or equal to 0"),
    (body(options={"requeue_timestamp": 2**64}), "options.requeue_timestamp: input should be less than"),
    (body(message_timestamp=2**53 + 1), "message_timestamp: input should be less than or equal to"),
    (body(options={OVERSIZE_OPTION: 1}), f"options.{OVERSIZE_OPTION}: is not a field"),
    (body(options=[]), "options: "),
    (body(message_id="a b"), "message_id: must be 1 to 128 characters"),
    (body(message_id=None), "message_id:"),
    (body(actor_name="delete-everything"), "actor_name: must be an actor's name: 1 to 64 characters"),
    (body(message_timestamp="now"), "message_timestamp:"),
    (body(extra=1), "extra: is not a field of the envelope"),
    (json.dumps({k: v for k, v in ENVELOPE.items() if k != "kwargs"}).encode(), "kwargs: is required"),
]


@pytest.mark.parametrize(("data", "problem"), UNREADABLE)
def test_anything_but_a_well_formed_envelope_is_unreadable(data: bytes, problem: str) -> None:
    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(data)

    assert problem in "; ".join(raised.value.problems)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (body(options={f"k{n}": n for n in range(5_000)}), "options: has 5000 fields, more than any"),
        (body(kwargs={f"k{n}": n for n in range(5_000)}), "kwargs: has 5000 fields, more than any"),
        (json.dumps({f"k{n}": n for n in range(5_000)}).encode(), "the envelope: has 5000 fields"),
    ],
)
def test_an_object_of_thousands_of_fields_is_one_problem_with_the_ids_it_still_names(
    data: bytes, problem: str
) -> None:
    """Not a problem built for each unknown field and then cut: that took seconds of the consumer's
    thread for one body of the limit's size."""
    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(data)

    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(problem)
    if b"message_id" in data:
        assert (raised.value.message_id, raised.value.actor) == (
            ENVELOPE["message_id"],
            ENVELOPE["actor_name"],
        )


def test_a_crowded_body_over_the_limit_is_told_its_size_first() -> None:
    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(body(options={f"k{n}": n for n in range(50_000)}))

    assert [problem.split(":")[0] for problem in raised.value.problems] == ["message", "options"]
    assert "over the limit of 262144 bytes" in raised.value.problems[0]


def test_a_malformed_envelope_over_the_limit_is_told_its_size_first() -> None:
    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(body(queue_name="default", kwargs={"org_id": "x" * 300_000}))

    assert [problem.split(":")[0] for problem in raised.value.problems] == ["message", "queue_name"]
    assert "over the limit of 262144 bytes" in raised.value.problems[0]


def test_arguments_of_thousands_of_small_values_in_a_large_body_are_refused_at_once() -> None:
    """Each ``{}`` takes 64 bytes once decoded, for 3 in the body: held until the message runs."""
    many = body(kwargs={"org_id": "acme", "user_id": "bob", "pad": [{}] * 10_000})
    few = body(kwargs={"org_id": "acme", "user_id": "bob", "pad": [{}] * 900})  # still invalid, later

    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(many)

    assert raised.value.problems == ["kwargs: holds more than 1000 values, more than any command has"]
    assert EnvelopeEncoder().decode(few)["kwargs"]["pad"] == [{}] * 900


def test_positional_arguments_of_thousands_of_small_values_are_refused_at_once_too() -> None:
    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(body(args=[{}] * 10_000))

    assert raised.value.problems == ["args: holds more than 1000 values, more than any command has"]


def test_a_body_far_over_the_limit_is_not_read_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to four times the limit a body is read, to record its rejection; beyond, not even parsed."""
    from workers.middleware import envelope

    def no_parse(_data: bytes) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(envelope, "_json_object", no_parse)
    data = body(kwargs={"org_id": "acme", "pad": "x" * READ_LIMIT_BYTES})

    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(data)

    assert raised.value.problems == [
        f"body: is {len(data)} bytes, too large to be read (a message may be {MAX_MESSAGE_BYTES} bytes;"
        f" over {READ_LIMIT_BYTES} it is not read at all)"
    ]
    assert raised.value.message_id is None


def test_an_unreadable_envelope_lists_its_first_20_problems_then_how_many_more() -> None:
    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(body(options={f"unknown_{n}": n for n in range(30)}))

    assert len(raised.value.problems) == 21
    assert raised.value.problems[0] == "options.unknown_0: is not a field of the envelope"
    assert raised.value.problems[-1] == "... and 10 more problems"


def test_an_unreadable_envelope_still_names_its_message_id_when_it_can() -> None:
    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(body(options={"throws": "x"}))
    assert raised.value.message_id == ENVELOPE["message_id"]

    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(body(message_id="*"))
    assert raised.value.message_id is None


@pytest.mark.parametrize("actor_name", ["upload_document.x", "a:b", "add-member", "a" * 65])
def test_an_unreadable_envelope_names_no_actor_its_rejection_could_not_be_routed_by(actor_name: str) -> None:
    with pytest.raises(UnreadableMessage) as raised:
        EnvelopeEncoder().decode(body(actor_name=actor_name))

    assert raised.value.message_id == ENVELOPE["message_id"]
    assert raised.value.actor is None  # no CommandRejected routed as command.rejected.<that name>


def test_a_body_over_the_limit_is_marked_for_the_size_limit() -> None:
    padding = "x" * MAX_MESSAGE_BYTES
    data = body(kwargs={"org_id": "acme", "user_id": "alice", "padding": padding})

    fields = EnvelopeEncoder().decode(data)

    assert fields["options"] == {OVERSIZE_OPTION: len(data)}
    assert fields["kwargs"]["padding"] == padding


def test_a_body_of_exactly_the_limit_is_not_marked() -> None:
    base = len(body(kwargs={"pad": ""}))
    data = body(kwargs={"pad": "x" * (MAX_MESSAGE_BYTES - base)})
    assert len(data) == MAX_MESSAGE_BYTES

    assert EnvelopeEncoder().decode(data)["options"] == {}


def test_the_screen_admits_a_message_on_its_own_queue_and_a_retry_waiting_on_the_delay_queue() -> None:
    soon = current_millis() + 2_000
    assert admit(body(), "documents")
    assert admit(body(queue_name="documents.DQ", options={"retries": 1, "eta": soon}), "documents.DQ")
    retried_query = body(queue_name="documents-queries.DQ", actor_name="list_folder", options={"retries": 2})
    assert admit(retried_query, "documents-queries.DQ")


@pytest.mark.parametrize(
    ("queue_name", "options", "consumed_from", "problem"),
    [
        # Dramatiq would ack these on another queue's channel, where the delivery tag means nothing
        (
            "documents.DQ",
            {},
            "documents",
            "queue_name: is 'documents.DQ' but the message came from 'documents'",
        ),
        (
            "documents",
            {},
            "documents.DQ",
            "queue_name: is 'documents' but the message came from 'documents.DQ'",
        ),
        # Dramatiq would hold these unacked until their eta
        (
            "documents",
            {"eta": 32503680000000},
            "documents",
            "options.eta: only a retry waiting on a .DQ queue",
        ),
        ("documents.DQ", {"eta": 32503680000000}, "documents.DQ", "options.eta: more than 60 seconds ahead"),
        # a producer's message held in the worker's memory until its eta: only retries wait there
        ("documents.DQ", {"eta": 1}, "documents.DQ", "options.retries: only a retry (retries 1 or more)"),
    ],
)
def test_the_screen_refuses_a_message_dramatiq_would_never_ack(
    queue_name: str, options: dict[str, Any], consumed_from: str, problem: str
) -> None:
    with capture_logs() as logs:
        assert not admit(body(queue_name=queue_name, options=options), consumed_from)

    [line] = logs
    assert (line["outcome"], line["message_id"]) == ("invalid", ENVELOPE["message_id"])
    assert line["problems"][0].startswith(problem)


def test_the_screen_refuses_a_retry_over_the_size_limit_on_a_delay_queue() -> None:
    """It would be held in memory until due; no retry is that large, as a large message is never retried."""
    pad = "x" * MAX_MESSAGE_BYTES
    retry = body(queue_name="documents.DQ", options={"retries": 1}, kwargs={**ENVELOPE["kwargs"], "pad": pad})

    with capture_logs() as logs:
        assert not admit(retry, "documents.DQ")

    [line] = logs
    assert line["problems"][0].startswith(f"message: the body is {len(retry)} bytes, over the limit")


def test_the_screen_refuses_with_one_line_a_message_naming_another_queue() -> None:
    with capture_logs() as logs:
        assert not admit(body(queue_name="documents-queries"), "documents")

    [line] = logs
    assert line["outcome"] == "invalid"
    assert line["message_id"] == ENVELOPE["message_id"]
    assert line["actor"] == ENVELOPE["actor_name"]
    assert "queue_name: is 'documents-queries' but the message came from 'documents'" in line["problems"][0]


def test_the_rejection_of_an_unreadable_envelope_names_the_ids_its_arguments_give() -> None:
    rejected: list[tuple[str, str, dict[str, str]]] = []

    def reject(message_id: str, actor: str, detail: str, ids: Mapping[str, str]) -> str:
        assert detail, "it says what is wrong"
        rejected.append((message_id, actor, dict(ids)))
        return "recorded"

    kwargs = {"org_id": "acme", "doc_id": "doc-1", "folder_id": "f-1", "owner_id": "alice", "name": "a b"}
    misrouted = body(queue_name="documents-queries", actor_name="upload_document", kwargs=kwargs)
    forbidden_option = body(actor_name="upload_document", kwargs=kwargs, options={"throws": "x"})
    assert not admit(misrouted, "documents", reject)
    assert not admit(forbidden_option, "documents", reject)
    ids = {"org_id": "acme", "doc_id": "doc-1", "folder_id": "f-1", "owner_id": "alice"}
    assert rejected == [(ENVELOPE["message_id"], "upload_document", ids)] * 2


def test_the_screen_names_the_message_and_actor_of_an_envelope_with_a_forbidden_option() -> None:
    with capture_logs() as logs:
        assert not admit(body(options={"throws": "x"}), "documents")

    [line] = logs
    assert (line["message_id"], line["actor"]) == (ENVELOPE["message_id"], ENVELOPE["actor_name"])
    assert any("options" in problem for problem in line["problems"])


def test_the_screen_refuses_with_one_line_an_unreadable_body() -> None:
    with capture_logs() as logs:
        assert not admit(b"\x00garbage", "documents")

    [line] = logs
    assert (line["event"], line["queue"], line["size"]) == (
        "unreadable message dead-lettered",
        "documents",
        8,
    )
    assert line["problems"] == ["body: is not JSON (Expecting value: line 1 column 1 (char 0))"]
    # No message id to find its dead letter by: what ``docfleet dlq show`` takes for it instead.
    assert line["dead_letter"] == "sha256:" + hashlib.sha256(b"\x00garbage").hexdigest()[:16]


def test_a_refused_envelope_with_a_message_id_is_found_by_it_alone() -> None:
    with capture_logs() as logs:
        assert not admit(body(options={"throws": "x"}), "documents")

    [line] = logs
    assert "dead_letter" not in line


def test_the_second_decode_of_the_same_body_reads_it_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.middleware import envelope

    parsed: list[bytes] = []
    parse = envelope._json_object

    def counting(data: bytes) -> dict[str, Any]:
        parsed.append(data)
        return parse(data)

    monkeypatch.setattr(envelope, "_json_object", counting)
    encoder, delivered = EnvelopeEncoder(), body()
    screened, handed_on = encoder.decode(delivered), encoder.decode(delivered)
    assert screened == handed_on == ENVELOPE
    assert handed_on["options"] is not screened["options"]  # Dramatiq's retry bookkeeping stays its own
    assert len(parsed) == 1
    assert encoder.decode(delivered) == ENVELOPE  # a third decode of it is a delivery again: read anew
    assert len(parsed) == 2
    assert encoder.decode(body(message_id="7f1c0c4e-8a4e-4a8e-9c61-1f1f0e0d2b7a"))["message_id"].startswith(
        "7f"
    )
