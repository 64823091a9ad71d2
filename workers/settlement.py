"""Whether the consumer sent a message's ack or nack: after a lost connection it does not (see
``workers.consumer``), and the hooks after it must not count a dead letter that was never sent."""

from __future__ import annotations

from typing import Any

_NOT_SENT = "_docfleet_settlement_not_sent"


def mark_not_sent(message: Any) -> None:
    setattr(message, _NOT_SENT, True)


def was_sent(message: Any) -> bool:
    return not getattr(message, _NOT_SENT, False)
