"""The benchmark empties the outbox of unpublished events before each run's fleet starts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from adapters.postgres.migrations import upgrade_to_head
from bench.resources import discard_unpublished_events, libpq_url
from tests.support.services import default_settings, throwaway_database

pytestmark = pytest.mark.integration


@pytest.fixture
def own_database_url() -> Iterator[str]:
    with throwaway_database(default_settings().database_url) as url:
        upgrade_to_head(url)
        yield url


def test_only_the_unpublished_events_are_discarded(own_database_url: str) -> None:
    with psycopg.connect(libpq_url(own_database_url), autocommit=True) as connection:
        for published in (True, True, False, False, False):
            connection.execute(
                "INSERT INTO outbox (event_id, type, routing_key, payload, published_at)"
                " VALUES (%s, 'MemberAdded', 'member.added', '{}', CASE WHEN %s THEN now() END)",
                (str(uuid.uuid4()), published),
            )

        assert discard_unpublished_events(own_database_url) == 3

        [(left, unpublished)] = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL) FROM outbox"
        ).fetchall()
    assert (left, unpublished) == (2, 0)
