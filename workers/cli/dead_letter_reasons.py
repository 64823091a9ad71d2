"""The words ``docfleet dlq`` gives for why a dead letter died, and for what can be done with it."""

from __future__ import annotations

from typing import Any

from adapters.postgres.rejections import RecordedRejection
from adapters.rabbitmq.dead_letters import DeadLetter
from workers.middleware.redeliveries import REDELIVERY_LIMIT


def advice(new_id: str | None, ran: bool) -> str:
    if new_id is not None:
        return "send it again with a new message id (dlq replay --new-id)"
    if ran:  # sent again under any id, it would run a second time
        return (
            "its command already had its outcome under this id (applied, or refused by the rules):"
            " a new id would run it again"
        )
    return "fix it and send it with a new message id"


def message_id_reused(actor: str | None) -> str:
    return (
        f"message_id_reused: its message id was spent by another message (a different command, or one"
        f" rejected as invalid); this {actor} was not run"
    )


def recorded(rejection: RecordedRejection | None) -> str | None:
    return None if rejection is None else f"{rejection.reason}: {rejection.detail}"


def not_taken(letter: DeadLetter) -> str | None:
    """RabbitMQ's own reasons for a death no worker saw (``x-death``): no line and no event tell them."""
    queue = letter.died_in or letter.queue.removesuffix(".XQ")
    if letter.death_reason == "expired":
        return (
            f"expired in {queue} before a worker took it: its producer set a time to live (the AMQP"
            " expiration property), which the contract asks producers not to set; it never ran"
        )
    if letter.death_reason == "maxlen":
        return f"dropped by {queue}'s length limit before a worker took it; it never ran"
    return None


def redelivered(count: int) -> str | None:
    if count <= REDELIVERY_LIMIT:
        return None
    return (
        f"redelivered {count} times after the worker holding it stopped before settling it: it may stop"
        " the worker that runs it; find why before replaying it"
    )


def fault(options: dict[str, Any]) -> str | None:
    lines = [line for line in str(options.get("traceback", "")).splitlines() if line.strip()]
    if not lines:
        return None
    return f"failed after {options.get('retries', 0)} retries, last: {lines[-1].strip()[:300]}"
