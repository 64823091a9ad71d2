"""The statement docs/audit-consumer.md gives for recording, from the outbox, the events published while
no audit queue was there to receive them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from adapters.postgres.engine import create_engine
from adapters.postgres.tables import audit_log, outbox
from adapters.postgres.unit_of_work import unit_of_work_factory
from tests.conftest import IdMaker
from tests.integration.test_postgres_support import org_with_folder

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def documented_statement() -> str:
    page = (ROOT / "docs" / "audit-consumer.md").read_text()
    blocks: list[str] = re.findall(r"```sql\n(.*?)```", page, re.S)
    [statement] = [block for block in blocks if "FROM outbox" in block]
    return statement


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = create_engine(fresh_database_url, pool_size=1)
    yield engine
    engine.dispose()


def test_it_records_each_published_event_once_as_the_consumer_would(engine: Engine, new_id: IdMaker) -> None:
    org_with_folder(unit_of_work_factory(engine), new_id)  # two MemberAdded, one FolderCreated
    with engine.begin() as connection:  # the last one not published yet: the relay would still send it
        connection.execute(
            text("UPDATE outbox SET published_at = now() WHERE seq < (SELECT max(seq) FROM outbox)")
        )

    with engine.begin() as connection:
        first = connection.execute(text(documented_statement())).rowcount
    with engine.begin() as connection:
        second = connection.execute(text(documented_statement())).rowcount

    columns = ("event_id", "type", "routing_key", "org_id", "document_id", "payload")
    with engine.connect() as connection:
        published = connection.execute(
            select(*(outbox.c[name] for name in columns)).where(outbox.c.published_at.is_not(None))
        ).all()
        recorded = connection.execute(
            select(*(audit_log.c[name] for name in columns), audit_log.c.occurred_at)
        )
        rows = {row.event_id: row for row in recorded}
    assert (first, second) == (2, 0)
    assert {row.event_id: tuple(row) for row in published} == {
        key: tuple(row)[:-1] for key, row in rows.items()
    }
    for row in rows.values():
        assert row.occurred_at == datetime.fromisoformat(row.payload["occurred_at"])
