"""The three paths that run commands decide alike: the fakes, Postgres one message at a time, group commit.

The unit tests pin the rules on the fakes (tests/unit/fakes.py); the workers run them on Postgres, one
message per transaction, or, for the commands group commit batches (``BATCHED_COMMANDS``), several
messages in one ``SqlBatch`` that reads ahead into a snapshot. Each is code of its own for the same
rules: a refusal one path skips, a role one path writes wrong, a reused message id one path applies
would let the unit tests pass on a rule production breaks. So for random messages on a small world
(paths_agree_support.py), each path starts empty and runs the same messages, and they must agree on each
message's outcome (applied, duplicate, refused and why, or not found: retried later), on the final state
(members, folders, documents, roles, the inbox) and on the events in order, every field but the event's
id, its time and the free-text detail.

Group commit runs as a worker runs it: consecutive batched commands share a batch (at most the
scenario's batch size), the other commands run alone between batches, and a batch that cannot commit
runs its messages again, each alone (workers/group_commit.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import zip_longest
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from sqlalchemy import Engine

from adapters.event_codec import to_wire
from adapters.postgres.batch import BATCHED_COMMANDS, BatchKeys, SqlBatch
from adapters.postgres.engine import create_engine
from adapters.postgres.tables import metadata
from adapters.postgres.unit_of_work import unit_of_work_factory
from domain.errors import NotFound
from domain.model import Document
from domain.ports import UnitOfWorkFactory
from domain.use_cases.dispatch import execute
from tests.integration.paths_agree_support import Message, Scenario, scenarios
from tests.support.services import migrated_database
from tests.unit.fakes import FakeDatabase
from workers.batching import Job, run_alone, run_together

pytestmark = pytest.mark.integration

EXAMPLES = 30
Rows = dict[str, list[tuple[Any, ...]]]
UNCOMPARED_EVENT_FIELDS = frozenset({"event_id", "occurred_at", "detail"})
REFUSAL_EVENTS = frozenset({"ShareDenied", "CommandRejected"})
DOCUMENT_FIELDS = ("id", "org_id", "folder_id", "owner_id", "uploaded_by", "name", "mime_type", "version")
STATE_QUERIES = {
    "members": "SELECT org_id, user_id FROM memberships",
    "folders": "SELECT id, org_id, parent_id, name FROM folders",
    "documents": f"SELECT {', '.join(DOCUMENT_FIELDS)}, blob_uri, tags FROM documents",
    "roles": "SELECT document_id, user_id, role FROM access_policies",
    "inbox": "SELECT message_id FROM inbox",
}


@dataclass(frozen=True)
class Observed:
    """What a path made of the messages: each one's outcome, the rows left, the events recorded."""

    outcomes: list[str]
    state: Rows
    events: list[dict[str, Any]]


@pytest.fixture(scope="module")
def scratch_engine() -> Iterator[Engine]:
    """A migrated database of this module's own, emptied before each path runs; dropped after."""
    with migrated_database() as url:
        engine = create_engine(url, pool_size=2)
        yield engine
        engine.dispose()


# The same examples on every run; not shrunk: an example costs a few hundred round trips, and shrinking
# one ran for minutes. Hypothesis prints the failing example (its messages numbered as in the difference).
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    report_multiple_bugs=False,
    print_blob=True,
)
@given(scenario=scenarios())
def test_the_fakes_postgres_and_group_commit_decide_alike(scratch_engine: Engine, scenario: Scenario) -> None:
    expected = through_fakes(scenario)
    for path, run in (("Postgres one message at a time", one_at_a_time), ("group commit", in_batches)):
        empty(scratch_engine)
        difference = first_difference(expected, run(scratch_engine, scenario), scenario.messages)
        assert difference is None, f"{path} differs from the fakes: {difference}"


# -- the paths -----------------------------------------------------------------------------------------------


def through_fakes(scenario: Scenario) -> Observed:
    db = FakeDatabase()
    new_uow = db.uow_factory()
    outcomes = [executed(message, new_uow) for message in scenario.messages]
    state: Rows = {
        "members": [(org, user) for org, users in db.members.items() for user in users],
        "folders": [(f.id, f.org_id, f.parent_id, f.name) for f in db.folders.values()],
        "documents": [_document_row(document) for document in db.documents.values()],
        "roles": [
            (doc, user, role.value) for doc, roles in db.policies.items() for user, role in roles.items()
        ],
        "inbox": [(message_id,) for message_id in db.applied_message_ids],
    }
    return _observed(scenario.messages, outcomes, state, [to_wire(event) for event in db.events])


def one_at_a_time(engine: Engine, scenario: Scenario) -> Observed:
    new_uow = unit_of_work_factory(engine)
    return _read_back(engine, scenario, [executed(message, new_uow) for message in scenario.messages])


def in_batches(engine: Engine, scenario: Scenario) -> Observed:
    """As a worker's group commit runs them: batched commands in batches, the others alone."""
    outcomes: list[str] = []
    for group in production_groups(scenario.messages, scenario.batch_size):
        if isinstance(group[0].command, BATCHED_COMMANDS):
            outcomes += _group_committed(engine, [job_of(message) for message in group])
        else:
            outcomes += [executed(message, unit_of_work_factory(engine)) for message in group]
    return _read_back(engine, scenario, outcomes)


def production_groups(messages: Sequence[Message], batch_size: int) -> Iterator[list[Message]]:
    """Runs of batched commands cut at ``batch_size``; every other command alone."""
    batch: list[Message] = []
    for message in messages:
        if isinstance(message.command, BATCHED_COMMANDS):
            batch.append(message)
            if len(batch) == batch_size:
                yield batch
                batch = []
            continue
        if batch:
            yield batch
            batch = []
        yield [message]
    if batch:
        yield batch


def _group_committed(engine: Engine, jobs: list[Job]) -> list[str]:
    def open_batch(batched: Sequence[Job]) -> SqlBatch:
        return SqlBatch(engine, BatchKeys.of((job.message_id, job.command) for job in batched))

    try:
        results = run_together(jobs, open_batch, _decided)
    except Exception:  # rolled back: as GroupCommit does, each message runs again on its own
        return [_unless_not_found(partial(run_alone, job, open_batch, _decided)) for job in jobs]
    return ["not_found" if isinstance(result, NotFound) else str(result) for result in results]


def executed(message: Message, new_uow: UnitOfWorkFactory) -> str:
    return _unless_not_found(partial(_decided, new_uow, job_of(message)))


def _decided(new_uow: UnitOfWorkFactory, job: Job) -> str:
    return execute(job.command, message_id=job.message_id, actor=job.actor, new_uow=new_uow).value


def _unless_not_found(run: Callable[[], str]) -> str:
    """The outcome; a NotFound, which a worker retries later, as ``not_found``."""
    try:
        return run()
    except NotFound:
        return "not_found"


def job_of(message: Message) -> Job:
    return Job(message.command, message.message_id, message.actor)


# -- what a path left ----------------------------------------------------------------------------------------


def empty(engine: Engine) -> None:
    """Every row gone, referring tables first; the schema (and its migrations' revision) stays."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.exec_driver_sql(f"DELETE FROM {table.name}")


def _read_back(engine: Engine, scenario: Scenario, outcomes: list[str]) -> Observed:
    with engine.connect() as connection:
        state = {
            table: [_row(row) for row in connection.exec_driver_sql(sql)]
            for table, sql in STATE_QUERIES.items()
        }
        events = list(connection.exec_driver_sql("SELECT payload FROM outbox ORDER BY seq").scalars())
    return _observed(scenario.messages, outcomes, state, events)


def _row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(tuple(value) if isinstance(value, list) else value for value in row)


def _document_row(document: Document) -> tuple[Any, ...]:
    return (*(getattr(document, name) for name in DOCUMENT_FIELDS), document.blob_uri, document.tags)


def _observed(
    messages: Sequence[Message], outcomes: list[str], state: Rows, events: list[dict[str, Any]]
) -> Observed:
    """Refusals with their reasons (from their events), rows in one order, events without their ids."""
    reasons = {e["message_id"]: e["reason"] for e in events if e["type"] in REFUSAL_EVENTS}
    return Observed(
        outcomes=[
            f"refused ({reasons.get(message.message_id)})" if outcome == "refused" else outcome
            for message, outcome in zip(messages, outcomes, strict=True)
        ],
        state={table: sorted(rows, key=repr) for table, rows in state.items()},
        events=[{k: v for k, v in e.items() if k not in UNCOMPARED_EVENT_FIELDS} for e in events],
    )


def first_difference(expected: Observed, actual: Observed, messages: Sequence[Message]) -> str | None:
    for index, (wanted, got) in enumerate(zip(expected.outcomes, actual.outcomes, strict=True)):
        if wanted != got:
            return f"message #{index} {messages[index]}: the fakes say {wanted}, this path {got}"
    for table, rows in expected.state.items():
        if rows != actual.state[table]:
            only_fakes = [row for row in rows if row not in actual.state[table]]
            only_here = [row for row in actual.state[table] if row not in rows]
            return f"{table}: only the fakes hold {only_fakes}, only this path {only_here}"
    for index, (wanted_event, got_event) in enumerate(zip_longest(expected.events, actual.events)):
        if wanted_event != got_event:
            return f"event #{index}: the fakes recorded {wanted_event}, this path {got_event}"
    return None
