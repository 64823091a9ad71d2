"""The actors: each validates its message, builds the domain command, hands it to the Application.

Run a worker with ``docfleet worker`` (``dramatiq workers.actors`` with docfleet's logging); produce
from Python with e.g. ``add_member.send(...)``.
Every argument is a keyword argument; docs/contract.md describes them, and each outcome.
"""

from __future__ import annotations

import math
from typing import Any

import dramatiq
from dramatiq.common import current_millis
from dramatiq.middleware import CurrentMessage

from domain.errors import MessageIdReused, NotFound, Refused
from workers.broker import broker
from workers.contract import COMMANDS_QUEUE, QUERIES_QUEUE, InvalidMessage, parse_command, parse_query
from workers.contract_events import page_result, refusal_result
from workers.middleware import RetryPolicy, current_application, note_outcome
from workers.middleware.answers import abandoned, fail_abandoned, store_answer

COMMAND_RETRIES = RetryPolicy(not_found_retries=8, fault_retries=20)
QUERY_RETRIES = RetryPolicy(not_found_retries=0, fault_retries=3)


class ContractActor(dramatiq.Actor[..., None]):
    """Dramatiq's actor, called with a message's kwargs whatever their names. Dramatiq's own
    ``__call__(self, *args, **kwargs)`` takes a kwarg named ``self`` for its own and raises a TypeError:
    a fault, retried 20 times, where the contract refuses an unknown argument as invalid at once."""

    def __call__(self, /, *args: Any, **kwargs: Any) -> None:
        self.fn(*args, **kwargs)


COMMAND_OPTIONS: dict[str, Any] = {
    "broker": broker,
    "actor_class": ContractActor,
    "queue_name": COMMANDS_QUEUE,
    "max_retries": COMMAND_RETRIES.max_retries,
    "retry_when": COMMAND_RETRIES,  # takes precedence over max_retries: see RetryPolicy
    "min_backoff": 100,  # ms, doubled per retry, jittered
    "max_backoff": 2_000,  # ms
    # Never interrupted: Dramatiq's time limit raises in the thread at any instruction, and could leave a
    # group commit's batch half handed over. Every wait a command makes is bounded on its own: each
    # Postgres statement (5 s), a silent Postgres connection (about 30 s), Valkey (0.25 s), a retry's
    # publish that RabbitMQ holds up (60 s: ``workers.broker.with_connection_defaults``).
    "time_limit": math.inf,
    "throws": (InvalidMessage, MessageIdReused),  # failed at once, never retried: logged without a traceback
}
QUERY_OPTIONS: dict[str, Any] = {
    **COMMAND_OPTIONS,
    "queue_name": QUERIES_QUEUE,
    "max_retries": QUERY_RETRIES.max_retries,
    "retry_when": QUERY_RETRIES,
    "max_backoff": 1_000,
    # Not interrupted either (the commands' time_limit): Dramatiq raises a time limit's exception after
    # letting go of its lock, so it can land in the next message its thread runs, a command inside group
    # commit. A query's waits are bounded on their own: each statement (5 s), a pooled connection (30 s),
    # a read another thread shares (5 s), Valkey (0.25 s), storing the answer (5 s), a retry's publish
    # that RabbitMQ holds up (60 s: ``workers.broker.with_connection_defaults``).
    "store_results": True,  # for result_ttl (Settings.result_ttl_ms), in Valkey
}


@dramatiq.actor(actor_name="add_member", **COMMAND_OPTIONS)
def add_member(*args: Any, **kwargs: Any) -> None:
    perform("add_member", args, kwargs)


@dramatiq.actor(actor_name="create_folder", **COMMAND_OPTIONS)
def create_folder(*args: Any, **kwargs: Any) -> None:
    perform("create_folder", args, kwargs)


@dramatiq.actor(actor_name="upload_document", **COMMAND_OPTIONS)
def upload_document(*args: Any, **kwargs: Any) -> None:
    perform("upload_document", args, kwargs)


@dramatiq.actor(actor_name="share_document", **COMMAND_OPTIONS)
def share_document(*args: Any, **kwargs: Any) -> None:
    perform("share_document", args, kwargs)


@dramatiq.actor(actor_name="revoke_access", **COMMAND_OPTIONS)
def revoke_access(*args: Any, **kwargs: Any) -> None:
    perform("revoke_access", args, kwargs)


@dramatiq.actor(actor_name="list_folder", **QUERY_OPTIONS)
def list_folder(*args: Any, **kwargs: Any) -> None:
    answer("list_folder", args, kwargs)


ACTORS: tuple[dramatiq.Actor[..., Any], ...] = (
    add_member,
    create_folder,
    upload_document,
    share_document,
    revoke_access,
    list_folder,
)


def perform(actor: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Applies a command once per message id; NotFound and faults propagate to Retries."""
    command = parse_command(actor, args, kwargs)
    verdict = current_application().handle(command, message_id=current_message_id(), actor=actor)
    explained = {"reason": verdict.reason, "detail": verdict.detail} if verdict.reason else {}
    note_outcome(verdict.outcome.value, **explained)


def answer(actor: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Stores one page of a folder; a refused query (not a member, bad cursor, no such folder) is an
    answer too.

    The answer is stored before the actor returns: if it cannot be, the query fails and is retried. The
    actor returns nothing, as Dramatiq expects of an actor on a broker without its own Results (which
    would warn of a value discarded).

    A query sent longer ago than its answer is kept has no reader left: it is not run, and its outcome
    is ``expired`` (docs/contract.md §5)."""
    query = parse_query(actor, args, kwargs)
    message = current_message()
    why = abandoned(message, current_millis())
    if why is not None:
        note_outcome("expired", detail=why, answer=fail_abandoned(message, why))
        return
    try:
        page = current_application().list_folder(query)
    except (Refused, NotFound) as refusal:
        store_answer(message, refusal_result(refusal.code, refusal.message))
        note_outcome("refused", reason=refusal.code, detail=refusal.message)
        return
    store_answer(message, page_result(page))
    note_outcome("answered", documents=len(page.documents))


def current_message_id() -> str:
    return current_message().message_id


def current_message() -> dramatiq.Message[Any]:
    message = CurrentMessage.get_current_message()
    if message is None:
        raise RuntimeError("no current message: actors run inside a worker with CurrentMessage")
    return message


def declare_on(other: dramatiq.Broker, **overrides: Any) -> dict[str, dramatiq.Actor[..., Any]]:
    """The same actors declared on another broker, options overridden (tests shorten the backoffs)."""
    return {
        actor.actor_name: dramatiq.actor(
            actor_name=actor.actor_name,
            queue_name=actor.queue_name,
            broker=other,
            actor_class=ContractActor,
            **{**actor.options, **overrides},
        )(actor.fn)
        for actor in ACTORS
    }
