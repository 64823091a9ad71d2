"""``NotSent.maybe_taken``: whether a copy of a message the client gave up on can be in a queue, told
from what happened on each connection (a fake publisher stands in for RabbitMQ)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from adapters.rabbitmq.queue_publisher import OutgoingMessage, PublishError, Undelivered
from workers.client import DocfleetClient, NotSent, prepare
from workers.client import client as client_module

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


class ScriptedPublisher:
    """Each new publisher plays the next step: "unreachable" (connecting fails), "lost" (the publish
    fails), "refused" (RabbitMQ refuses every message), "taken"."""

    steps: Iterator[str]
    handed: list[str]  # the message ids handed to a connected publisher, in order

    def __init__(self, _url: str, **_options: Any) -> None:
        self._step = next(self.steps)
        if self._step == "unreachable":
            raise PublishError("connecting to RabbitMQ: cannot connect (test)")

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        self.handed.extend(message.message_id for message in messages)
        if self._step == "lost":
            raise PublishError("waiting for publisher confirms: connection lost (test)")
        if self._step == "refused":
            return [Undelivered(message.message_id, "unroutable (test)") for message in messages]
        return []

    def close(self) -> None:
        pass


def script(monkeypatch: pytest.MonkeyPatch, *steps: str) -> list[str]:
    """Each publisher the client opens plays the next step; the ids handed to one, in order."""
    handed: list[str] = []
    monkeypatch.setattr(ScriptedPublisher, "steps", iter(steps), raising=False)
    monkeypatch.setattr(ScriptedPublisher, "handed", handed, raising=False)
    monkeypatch.setattr(client_module, "QueuePublisher", ScriptedPublisher)
    return handed


def add_member_after(
    monkeypatch: pytest.MonkeyPatch, *steps: str, message_id: str | None = None
) -> NotSent | None:
    script(monkeypatch, *steps)
    try:
        with DocfleetClient(URL) as client:
            client.add_member(org_id="acme", user_id="alice", message_id=message_id)
    except NotSent as error:
        return error
    return None


@pytest.mark.parametrize(
    ("steps", "maybe_taken"),
    [
        (("refused",), False),
        (("unreachable", "unreachable"), False),
        (("lost", "lost"), True),
        (("lost", "unreachable"), True),
        (("lost", "refused"), True),
        (("unreachable", "refused"), False),
    ],
)
def test_a_copy_may_be_queued_only_if_a_connection_took_the_message_and_was_lost(
    monkeypatch: pytest.MonkeyPatch, steps: tuple[str, ...], maybe_taken: bool
) -> None:
    error = add_member_after(monkeypatch, *steps)

    assert error is not None
    assert error.maybe_taken is maybe_taken


def test_a_refusal_after_a_lost_connection_says_the_first_may_have_taken_a_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = add_member_after(monkeypatch, "lost", "refused")

    assert error is not None
    assert "unroutable (test); sent first on a connection since lost, which may have taken a copy" in str(
        error
    )


def test_one_lost_connection_then_a_confirm_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    assert add_member_after(monkeypatch, "lost", "taken") is None


def test_a_message_perhaps_taken_is_told_with_the_id_the_client_made_to_send_it_again_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed = script(monkeypatch, "lost", "unreachable")

    with DocfleetClient(URL) as client, pytest.raises(NotSent) as raised:
        client.add_member(org_id="acme", user_id="alice")

    error = raised.value
    assert error.maybe_taken
    assert handed  # the lost connection had it: RabbitMQ may hold a copy
    assert (error.message_id, error.message_ids) == (handed[0], (handed[0],))
    assert error.reason == "RabbitMQ at 127.0.0.1:5672/%2F: connecting to RabbitMQ: cannot connect (test)"
    assert str(error) == (
        f"{error.reason}; message {handed[0]} may have been taken all the same: send it again with "
        f"message id {handed[0]} (a copy already taken is then dropped as a duplicate)"
    )


@pytest.mark.parametrize("steps", [("lost", "lost"), ("lost", "refused")])
def test_a_given_message_id_is_the_one_told(monkeypatch: pytest.MonkeyPatch, steps: tuple[str, ...]) -> None:
    error = add_member_after(monkeypatch, *steps, message_id="add-alice-1")

    assert error is not None
    assert error.message_ids == ("add-alice-1",)
    assert "send it again with message id add-alice-1" in str(error)


@pytest.mark.parametrize("steps", [("refused",), ("unreachable", "unreachable")])
def test_a_message_no_queue_can_hold_carries_its_id_without_telling_to_send_it_again(
    monkeypatch: pytest.MonkeyPatch, steps: tuple[str, ...]
) -> None:
    error = add_member_after(monkeypatch, *steps, message_id="add-alice-2")

    assert error is not None
    assert not error.maybe_taken
    assert error.message_ids == ("add-alice-2",)
    assert str(error) == error.reason
    assert "taken" not in str(error)


def test_a_batch_perhaps_taken_carries_every_id(monkeypatch: pytest.MonkeyPatch) -> None:
    script(monkeypatch, "lost", "lost")
    messages = [prepare("add_member", {"org_id": "acme", "user_id": f"user-{n}"}) for n in range(3)]

    with DocfleetClient(URL) as client, pytest.raises(NotSent) as raised:
        client.send_prepared(messages)

    assert raised.value.message_ids == tuple(message.message_id for message in messages)
    assert raised.value.message_id is None
    assert "the 3 messages may have been taken all the same: send them again with the same message ids" in (
        str(raised.value)
    )


def test_a_query_perhaps_taken_is_to_be_asked_again_not_sent_under_its_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script(monkeypatch, "lost", "unreachable")

    with DocfleetClient(URL) as client, pytest.raises(NotSent) as raised:
        client.send("list_folder", {"folder_id": "f-1", "requested_by": "alice"})

    assert raised.value.message_id is not None
    assert str(raised.value).endswith(
        "; the query may have been taken all the same: ask again (a query is not deduplicated)"
    )


@pytest.mark.parametrize("steps", [("refused",), ("unreachable", "unreachable")])
def test_a_query_no_queue_can_hold_is_not_said_to_be_perhaps_taken(
    monkeypatch: pytest.MonkeyPatch, steps: tuple[str, ...]
) -> None:
    script(monkeypatch, *steps)

    with DocfleetClient(URL) as client, pytest.raises(NotSent) as raised:
        client.send("list_folder", {"folder_id": "f-1", "requested_by": "alice"})

    assert not raised.value.maybe_taken
    assert str(raised.value) == raised.value.reason
    assert "taken" not in str(raised.value)
