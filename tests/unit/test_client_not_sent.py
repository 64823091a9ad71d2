"""``NotSent.maybe_taken``: whether a copy of a message the client gave up on can be in a queue, told
from what happened on each connection (a fake publisher stands in for RabbitMQ)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from adapters.rabbitmq.queue_publisher import OutgoingMessage, PublishError, Undelivered
from workers.client import DocfleetClient, NotSent
from workers.client import client as client_module

URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


class ScriptedPublisher:
    """Each new publisher plays the next step: "unreachable" (connecting fails), "lost" (the publish
    fails), "refused" (RabbitMQ refuses every message), "taken"."""

    steps: Iterator[str]

    def __init__(self, _url: str, **_options: Any) -> None:
        self._step = next(self.steps)
        if self._step == "unreachable":
            raise PublishError("connecting to RabbitMQ: cannot connect (test)")

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        if self._step == "lost":
            raise PublishError("waiting for publisher confirms: connection lost (test)")
        if self._step == "refused":
            return [Undelivered(message.message_id, "unroutable (test)") for message in messages]
        return []

    def close(self) -> None:
        pass


def add_member_after(monkeypatch: pytest.MonkeyPatch, *steps: str) -> NotSent | None:
    monkeypatch.setattr(ScriptedPublisher, "steps", iter(steps), raising=False)
    monkeypatch.setattr(client_module, "QueuePublisher", ScriptedPublisher)
    try:
        with DocfleetClient(URL) as client:
            client.add_member(org_id="acme", user_id="alice")
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
