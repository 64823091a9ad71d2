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
    one connection it was sent on), or could not be connected to at all.
    """

    def __init__(self, message: str, *, maybe_taken: bool = True) -> None:
        super().__init__(message)
        self.maybe_taken = maybe_taken


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
