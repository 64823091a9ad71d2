"""``docfleet inbox prune`` on a database of the test's own: old message ids go, recent ones stay."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from tests.cli.support import run
from workers.settings import Settings

pytestmark = pytest.mark.integration

DAY = 86_400.0


@pytest.fixture
def own_settings(settings: Settings, fresh_database_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=fresh_database_url)


@pytest.fixture
def own_engine(own_settings: Settings) -> Engine:
    from adapters.postgres.engine import create_single_use_engine

    return create_single_use_engine(own_settings.database_url)


def add_inbox_rows(engine: Engine, prefix: str, count: int, age_seconds: float) -> None:
    """``count`` message ids processed ``age_seconds`` ago, written in one statement."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO inbox (message_id, processed_at) SELECT :prefix || g,"
                " now() - make_interval(secs => :age) FROM generate_series(1, :count) g"
            ),
            {"prefix": prefix, "age": age_seconds, "count": count},
        )


def inbox_prefixes(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT split_part(message_id, '-', 1), count(*) FROM inbox GROUP BY 1")
        )
        return {prefix: int(count) for prefix, count in rows}


def interleave(engine: Engine, batches: Sequence[tuple[str, float]], count: int) -> None:
    for batch, (prefix, age) in enumerate(batches):
        add_inbox_rows(engine, f"{prefix}-{batch}-", count, age)


@pytest.mark.parametrize("retention", [[], ["--older-than", "30d"]], ids=["default", "given"])
def test_prune_forgets_only_the_ids_older_than_the_retention(
    own_settings: Settings, own_engine: Engine, retention: list[str]
) -> None:
    # old and recent rows in turn, so that old ones sit between recent ones in the table
    interleave(own_engine, [("old", 40 * DAY), ("new", 60), ("old", 31 * DAY), ("new", 29 * DAY)], 3_000)

    result = run(own_settings, "inbox", "prune", *retention)

    assert result.exit_code == 0, result.output
    assert "deleted 6000 inbox rows older than 30d" in result.stdout
    assert inbox_prefixes(own_engine) == {"new": 6_000}


def test_a_range_deletes_only_the_old_rows_stored_in_its_blocks(own_engine: Engine) -> None:
    from adapters.postgres.inbox_retention import prune_blocks

    interleave(own_engine, [("old", 2 * DAY), ("new", 0), ("old", 3 * DAY)], 2_000)
    in_blocks = (
        "SELECT count(*) FROM inbox WHERE ctid >= '(1,0)' AND ctid < '(3,0)' AND message_id LIKE 'old-%'"
    )
    with own_engine.connect() as connection:
        old_there = connection.execute(text(in_blocks)).scalar_one()

    with own_engine.begin() as connection:
        deleted = prune_blocks(connection, 1, 3, timedelta(days=1))

    assert 0 < deleted == old_there
    assert inbox_prefixes(own_engine) == {"new": 2_000, "old": 4_000 - deleted}
    with own_engine.connect() as connection:
        assert connection.execute(text(in_blocks)).scalar_one() == 0


def test_prune_walks_the_table_in_ranges_and_counts_every_deletion(own_engine: Engine) -> None:
    from adapters.postgres.inbox_retention import prune_processed

    interleave(own_engine, [("old", 2 * DAY), ("new", 0), ("old", 3 * DAY)], 2_000)

    deleted = prune_processed(own_engine, timedelta(days=1), blocks_per_batch=1)

    assert deleted == 4_000
    assert inbox_prefixes(own_engine) == {"new": 2_000}


@pytest.mark.parametrize("age", ["7d", "191h", "59m", "0d"])
def test_prune_refuses_a_retention_within_the_dead_letters_lifetime(own_settings: Settings, age: str) -> None:
    result = run(own_settings, "inbox", "prune", "--older-than", age)

    assert result.exit_code == 2
    assert "at least 8d" in result.output


def test_prune_refuses_an_age_it_cannot_read(own_settings: Settings) -> None:
    result = run(own_settings, "inbox", "prune", "--older-than", "a month")

    assert result.exit_code == 2
    assert "expected a number and s, m, h or d" in result.output
    assert "'a month'" in result.output
