"""Why a dead letter died, and whether ``dlq replay`` may put it back: read from the letter alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from adapters.postgres.rejections import RecordedRejection
from adapters.rabbitmq.dead_letters import DeadLetter
from domain.commands import AddMember, Command, fingerprint
from tests.cli.support import encoded, envelope
from workers.cli.dead_letters import History, IdHistory, inspect
from workers.contract import MAX_MESSAGE_BYTES
from workers.middleware.redeliveries import REDELIVERY_LIMIT


def never_used(_message_id: str) -> IdHistory:
    return IdHistory()


def letter(queue: str, body: bytes) -> DeadLetter:
    return DeadLetter(
        queue=queue, body=body, died_in=queue.removesuffix(".XQ"), death_reason=None, died_at=None
    )


@pytest.mark.parametrize(
    ("actor", "kwargs", "queue"),
    [
        ("list_folder", {"folder_id": "f1", "requested_by": "alice"}, "documents"),
        ("add_member", {"org_id": "acme", "user_id": "bob"}, "documents-queries"),
    ],
)
def test_an_actor_dead_lettered_from_the_other_actors_queue_is_not_replayed_there(
    actor: str, kwargs: dict[str, str], queue: str
) -> None:
    """The workers dead-letter such a message at once, so a replay to the same queue would only say
    ``replayed`` and put it straight back."""
    inspected = inspect(letter(f"{queue}.XQ", encoded(envelope(actor, kwargs, queue=queue))), never_used)

    assert inspected.replay is None
    assert inspected.reason.startswith(f"unreadable: actor: {actor} is consumed from")
    assert inspected.not_replayable is not None


def test_an_actor_dead_lettered_from_its_own_queue_after_faults_is_replayed_there() -> None:
    body = encoded(envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=20))

    inspected = inspect(letter("documents.XQ", body), never_used)

    assert inspected.replay is not None
    assert inspected.replay.queue == "documents"


def test_a_body_over_the_size_limit_is_invalid_and_not_replayed_even_unrecorded() -> None:
    """With its rejection not recorded (Postgres was unreachable), the letter itself says why it died;
    and the decoder's mark of its size is not shown as part of the message."""
    fields = envelope("add_member", {"org_id": "acme", "user_id": "bob"})
    body = encoded(fields).replace(b'"args"', b" " * MAX_MESSAGE_BYTES + b'"args"', 1)

    inspected = inspect(letter("documents.XQ", body), never_used)

    assert inspected.reason == (
        f"invalid: message: the body is {len(body)} bytes, over the limit of {MAX_MESSAGE_BYTES} bytes"
    )
    assert inspected.replay is None
    assert inspected.envelope == fields


def test_an_unreadable_letter_still_names_the_actor_its_envelope_names() -> None:
    body = encoded({**envelope("add_member", {"org_id": "acme", "user_id": "bob"}), "extra": 1})

    inspected = inspect(letter("documents.XQ", body), never_used)

    assert inspected.reason.startswith("unreadable: extra: ")
    assert inspected.actor == "add_member"
    assert inspected.replay is None


@pytest.mark.parametrize(("counted", "told"), [(REDELIVERY_LIMIT + 1, True), (REDELIVERY_LIMIT, False)])
def test_a_letter_redelivered_past_the_limit_says_so_and_is_replayable(counted: int, told: bool) -> None:
    """Past the limit the redeliveries are why it died; within it (a restart or two) they are not."""
    body = encoded(envelope("add_member", {"org_id": "acme", "user_id": "bob"}))

    inspected = inspect(letter("documents.XQ", body), never_used, lambda _message_id: counted)

    assert inspected.reason.startswith(f"redelivered {counted} times after the worker") is told
    assert inspected.replay is not None


def _rejected_as_not_found_by(actor: str) -> Callable[[str], IdHistory]:
    def history(message_id: str) -> IdHistory:
        rejection = RecordedRejection(message_id, actor, "not_found", "no such folder", datetime.now(UTC))
        return IdHistory(True, rejection)

    return history


def test_a_command_rejected_as_not_found_may_go_back_under_a_new_id() -> None:
    body = encoded(envelope("add_member", {"org_id": "acme", "user_id": "bob"}))

    inspected = inspect(letter("documents.XQ", body), _rejected_as_not_found_by("add_member"))

    assert inspected.replay is None
    assert inspected.under_a_new_id() is not None


def test_only_the_commands_that_another_command_kept_from_running_go_back_under_new_ids() -> None:
    """The inbox keeps the fingerprint of the command that spent the id: a copy of that command ran and
    stays; any other command under the id never ran, whatever rejection was recorded last, and goes
    back under an id of its own, the same for copies of one command however they state it."""
    spent = envelope("add_member", {"org_id": "acme", "user_id": "bob"})
    message_id = spent["message_id"]
    other = {**envelope("add_member", {"org_id": "acme", "user_id": "carol"}), "message_id": message_id}
    upload = {
        "doc_id": "d1", "org_id": "acme", "folder_id": "f1", "owner_id": "bob", "name": "a.pdf",
        "mime_type": "application/pdf", "blob_uri": "s3://b/a.pdf",
    }  # fmt: skip
    third = {**envelope("upload_document", upload), "message_id": message_id}
    third_with_tags = {**envelope("upload_document", {**upload, "tags": []}), "message_id": message_id}
    last = RecordedRejection(message_id, "add_member", "message_id_reused", "x", datetime.now(UTC))
    known = IdHistory(True, last, fingerprint(AddMember(org_id="acme", user_id="bob")))

    def new_id(body: dict[str, object]) -> str | None:
        renewed = inspect(letter("documents.XQ", encoded(body)), lambda _id: known).under_a_new_id()
        return None if renewed is None else renewed.message_id

    assert new_id(spent) is None, "a copy of the command that spent the id ran"
    assert None not in (new_id(other), new_id(third))
    assert len({message_id, new_id(other), new_id(third)}) == 3
    assert new_id(third) == new_id(third_with_tags), "one command, one new id"
    assert (
        "this upload_document was not run"
        in inspect(letter("documents.XQ", encoded(third)), lambda _id: known).reason
    )


@pytest.mark.parametrize(
    ("actor", "kwargs", "queue", "rejected_actor"),
    [
        ("list_folder", {"folder_id": "f1", "requested_by": "bob"}, "documents-queries", "list_folder"),
        ("add_member", {"org_id": "acme", "user_id": "bob"}, "documents", "upload_document"),
    ],
    ids=["a query sharing a command's id", "another command's rejection under the same id"],
)
def test_a_letter_whose_id_holds_another_messages_rejection_may_not_go_back_under_a_new_id(
    actor: str, kwargs: dict[str, str], queue: str, rejected_actor: str
) -> None:
    body = encoded(envelope(actor, kwargs, queue=queue))

    inspected = inspect(letter(f"{queue}.XQ", body), _rejected_as_not_found_by(rejected_actor))

    assert inspected.under_a_new_id() is None


def _spent(
    by: Command, *, dead_lettered: bool = False, rejection: RecordedRejection | None = None
) -> History:
    known = IdHistory(True, rejection, fingerprint(by), dead_lettered)
    return lambda _message_id: known


def test_a_copy_of_the_command_that_spent_its_id_is_told_it_ran() -> None:
    """It ran: sent again under any id, it would run twice."""
    body = encoded(envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=20))

    inspected = inspect(letter("documents.XQ", body), _spent(AddMember(org_id="acme", user_id="bob")))

    assert inspected.under_a_new_id() is None
    assert inspected.not_replayable is not None
    assert inspected.not_replayable.endswith(
        "its command already had its outcome under this id (applied, or refused by the rules):"
        " a new id would run it again"
    )


def test_under_an_id_a_not_found_rejection_spent_the_rejected_command_and_another_go_back_under_two_ids() -> (
    None
):
    rejected = envelope("add_member", {"org_id": "acme", "user_id": "bob"})
    other = {
        **envelope("add_member", {"org_id": "acme", "user_id": "carol"}),
        "message_id": rejected["message_id"],
    }
    history = _spent(AddMember(org_id="acme", user_id="bob"), dead_lettered=True)

    ids = [
        inspect(letter("documents.XQ", encoded(body)), history).under_a_new_id() for body in (rejected, other)
    ]

    first, second = ids
    assert first is not None
    assert second is not None
    assert first.message_id != second.message_id


def test_a_query_sharing_an_id_with_a_command_is_replayed_as_it_is() -> None:
    """Queries are never deduplicated (contract §5): the command's outcome under the id says nothing."""
    body = encoded(
        envelope("list_folder", {"folder_id": "f1", "requested_by": "bob"}, queue="documents-queries")
    )
    rejection = RecordedRejection("x", "add_member", "not_found", "no such folder", datetime.now(UTC))

    inspected = inspect(
        letter("documents-queries.XQ", body), _spent(AddMember(org_id="a", user_id="b"), rejection=rejection)
    )

    assert inspected.replay is not None
    assert "no such folder" not in inspected.reason


def test_a_letter_is_not_given_another_commands_rejection_as_its_reason() -> None:
    invalid = encoded(envelope("add_member", {"org_id": "not an id", "user_id": "bob"}))
    reused = RecordedRejection("x", "add_member", "message_id_reused", "another's", datetime.now(UTC))
    by_another_actor = RecordedRejection("x", "upload_document", "not_found", "another's", datetime.now(UTC))

    for rejection in (reused, by_another_actor):
        inspected = inspect(
            letter("documents.XQ", invalid), _spent(AddMember(org_id="a", user_id="b"), rejection=rejection)
        )
        assert inspected.reason.startswith("invalid: org_id"), inspected.reason


def test_a_command_that_never_ran_past_the_redelivery_limit_says_so_first() -> None:
    """It may be what stopped the workers: that comes before the id another command spent."""
    body = encoded(envelope("add_member", {"org_id": "acme", "user_id": "carol"}))

    inspected = inspect(
        letter("documents.XQ", body),
        _spent(AddMember(org_id="acme", user_id="bob")),
        lambda _id: REDELIVERY_LIMIT + 1,
    )

    assert inspected.reason.startswith(f"redelivered {REDELIVERY_LIMIT + 1} times")
    assert inspected.under_a_new_id() is not None


@pytest.mark.parametrize(
    ("death_reason", "told"),
    [("expired", "expired in documents before a worker took it"), ("maxlen", "dropped by documents's")],
)
def test_a_letter_rabbitmq_itself_dead_lettered_says_why_and_is_replayed(
    death_reason: str, told: str
) -> None:
    """A time to live its producer set, or the queue's length limit: no worker saw it, so no line or
    rejection says why, and its id was never used."""
    body = encoded(envelope("add_member", {"org_id": "acme", "user_id": "bob"}))
    dead = DeadLetter(
        queue="documents.XQ", body=body, died_in="documents", death_reason=death_reason, died_at=None
    )

    inspected = inspect(dead, never_used)

    assert inspected.reason.startswith(told)
    assert inspected.replay is not None


def test_a_query_older_than_its_answer_is_kept_is_not_replayed_as_it_would_not_run() -> None:
    """A replayed query keeps the time it was first sent, and the workers leave one past RESULT_TTL_MS."""
    query = envelope("list_folder", {"folder_id": "f1", "requested_by": "bob"}, queue="documents-queries")
    fresh = inspect(letter("documents-queries.XQ", encoded(query)), never_used, answer_ttl_ms=60_000)
    query["message_timestamp"] -= 61_000
    stale = inspect(letter("documents-queries.XQ", encoded(query)), never_used, answer_ttl_ms=60_000)
    command = envelope("add_member", {"org_id": "acme", "user_id": "bob"})
    command["message_timestamp"] -= 61_000
    old_command = inspect(letter("documents.XQ", encoded(command)), never_used, answer_ttl_ms=60_000)

    assert fresh.replay is not None
    assert stale.replay is None
    assert stale.replay_word() == "no"
    assert str(stale.not_replayable).startswith("expired: sent 61 s ago")
    assert old_command.replay is not None, "a command does not expire"
