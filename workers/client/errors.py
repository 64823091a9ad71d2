"""What can go wrong for a docfleet client, each told in one line; every one is a ``ClientError``."""

from __future__ import annotations

from collections.abc import Sequence

from workers.contract import InvalidMessage


class ClientError(Exception):
    """A command or query that did not go through as asked."""


class InvalidArguments(InvalidMessage, ClientError):
    """The arguments break the message contract: nothing was sent. ``problems`` lists every one."""

    def __init__(self, actor: str, problems: Sequence[str]) -> None:
        super().__init__(actor, problems)
        self.args = (f"invalid {actor} arguments: " + "; ".join(self.problems),)

    def __str__(self) -> str:
        return str(self.args[0])


class NotSent(ClientError):
    """RabbitMQ did not take the message (refused, unroutable), or its fate is unknown (connection lost).

    Sending it again with the same message id is safe: a second copy is a duplicate, applied once.
    ``maybe_taken`` is False only when no copy can be in a queue: RabbitMQ refused the message (on the
    one connection it was sent on), or could not be connected to at all. ``message_ids`` names the messages
    concerned (the one a command's method sent, or the whole batch of ``send_prepared``), so that a caller
    who let the client make the id can still send again under it; ``reason`` is what went wrong, alone.
    When a copy may have been taken, the text says so and gives the id to send again with.
    """

    def __init__(
        self,
        reason: str,
        *,
        maybe_taken: bool = True,
        message_ids: Sequence[str] = (),
        advice: str | None = None,
    ) -> None:
        self.reason = reason
        self.maybe_taken = maybe_taken
        self.message_ids = tuple(message_ids)
        told = None if not maybe_taken else advice if advice is not None else resend_advice(self.message_ids)
        super().__init__(f"{reason}; {told}" if told else reason)

    @property
    def message_id(self) -> str | None:
        """The message id when one message is concerned, else None."""
        return self.message_ids[0] if len(self.message_ids) == 1 else None


def resend_advice(message_ids: Sequence[str]) -> str:
    """What to do about messages a queue may hold all the same: send them again under the same ids."""
    if len(message_ids) == 1:
        return (
            f"message {message_ids[0]} may have been taken all the same: send it again with message id "
            f"{message_ids[0]} (a copy already taken is then dropped as a duplicate)"
        )
    if message_ids:
        return (
            f"the {len(message_ids)} messages may have been taken all the same: send them again with the "
            "same message ids (NotSent.message_ids; copies already taken are then dropped as duplicates)"
        )
    return ""


class QueryRefused(ClientError):
    """list_folder was answered with a refusal: not a member, a malformed cursor, no such folder."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"refused ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


class QueryTimeout(ClientError):
    """No answer came within the timeout: no worker consumes documents-queries, or it is far behind."""


class QueryFailed(ClientError):
    """The query failed in the worker (a fault after its retries) or its result could not be read."""
