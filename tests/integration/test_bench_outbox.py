"""The benchmark empties the outbox of unpublished events before each run's fleet starts."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from adapters.postgres.engine import libpq_conninfo
from bench.resources import discard_unpublished_events

pytestmark = pytest.mark.integration


def test_only_the_unpublished_events_are_discarded(fresh_database_url: str) -> None:
    with psycopg.connect(libpq_conninfo(fresh_database_url), autocommit=True) as connection:
        for published in (True, True, False, False, False):
            connection.execute(
                "INSERT INTO outbox (event_id, type, routing_key, payload, published_at)"
                " VALUES (%s, 'MemberAdded', 'member.added', '{}', CASE WHEN %s THEN now() END)",
                (str(uuid.uuid4()), published),
            )

        assert discard_unpublished_events(fresh_database_url) == 3

        [(left, unpublished)] = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox"
        ).fetchall()
    assert (left, unpublished) == (2, 0)
