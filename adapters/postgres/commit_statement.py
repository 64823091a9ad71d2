"""A transaction's last writes as one statement, sent with its COMMIT: one round trip, one statement.

Each write is a named part of a ``WITH``, and every data-modifying part of a ``WITH`` runs whether or
not anything reads it. The parts see the same snapshot, so none may depend on another's rows, but the
foreign keys are checked once the whole statement has run: a policy may refer to a document inserted by
another part. When the transaction recorded events, the statement ends by waking the relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from adapters.postgres.arrays import text_array
from adapters.postgres.mappers import outbox_values
from adapters.postgres.outbox import OUTBOX_CHANNEL
from adapters.postgres.session import PgSession
from domain.events import Event

_bodies = msgspec.json.Encoder()  # 16 bodies in 5 µs, where json.dumps took 38
Part = tuple[str, str, Sequence[Any]]  # (name, data-modifying statement, its parameters)

# The commit statement, and the foreign keys' checks it fires, run generic plans: made once per connection
# and statement, where the session plans every statement anew with its parameters (``SESSION_OPTIONS``).
# A write finds its rows by their keys, whatever the parameters, and planning the statement and each
# key's check for every row was about a quarter of Postgres's CPU an upload (docs/performance.md).
# Sequential scans are off for them, so that a plan made while a table was nearly empty does not scan it
# whole once it has grown; a test holds each scan of these plans to its index's first column, so that none
# reads an index whole either (tests/integration/test_postgres_write_plans.py). Both settings last until
# the COMMIT: the reads before it keep planning with their parameters.
GENERIC_PLANS_FOR_WRITES = (
    "SELECT set_config('plan_cache_mode', 'force_generic_plan', true),"
    " set_config('enable_seqscan', 'off', true)"
)
RAISE_LISTING_VERSIONS = "UPDATE folders SET listing_version = listing_version + 1 WHERE id = ANY(%s::text[])"
# Every event of the transaction in one statement, numbered (seq) in the order they were recorded. The
# bodies come as one JSON array: one encoding in Python, where an array literal of JSON texts took an
# encoding per event and the escaping of every quote in it.
_WRITE_OUTBOX = (
    "INSERT INTO outbox (event_id, type, routing_key, org_id, document_id, payload)"
    " SELECT event_id, type, routing_key, org_id, document_id, payload FROM ROWS FROM ("
    "unnest(%s::uuid[]), unnest(%s::text[]), unnest(%s::text[]), unnest(%s::text[]), unnest(%s::text[]),"
    " jsonb_array_elements(%s::jsonb))"
    " WITH ORDINALITY AS recorded (event_id, type, routing_key, org_id, document_id, payload, position)"
    " ORDER BY position"
)


def send_last_writes(
    session: PgSession, parts: Sequence[Part], folder_ids: list[str], events: list[Event]
) -> None:
    """``parts``, then the folders' new listing versions and the events, as one statement (or none)."""
    every = list(parts)
    if folder_ids:
        every.append(("raised", RAISE_LISTING_VERSIONS, (text_array(folder_ids),)))
    if events:
        every.append(("written", _WRITE_OUTBOX, _outbox_columns(events)))
    if not every:
        return
    session.send(GENERIC_PLANS_FOR_WRITES)
    if len(every) == 1 and not events:
        _, statement, params = every[0]
        session.send(statement, params)
        return
    parts_sql = ", ".join(f"{name} AS ({statement})" for name, statement, _ in every)
    params = [param for _, _, part_params in every for param in part_params]
    if events:
        session.send(f"WITH {parts_sql} SELECT pg_notify(%s, '')", [*params, OUTBOX_CHANNEL])
    else:
        session.send(f"WITH {parts_sql} SELECT NULL", params)


def _outbox_columns(events: list[Event]) -> tuple[str, ...]:
    """The outbox rows of ``events``: one array literal per column, the bodies as one JSON array."""
    rows = [outbox_values(event) for event in events]
    columns = tuple(
        text_array(row[name] for row in rows)
        for name in ("event_id", "type", "routing_key", "org_id", "document_id")
    )
    return (*columns, _bodies.encode([row["payload"] for row in rows]).decode())
