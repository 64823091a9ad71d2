"""``require_schema``, a worker process's look at the schema before it consumes: on, ahead, or out."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from adapters.postgres.engine import single_use_engine
from tests.support.services import throwaway_database
from workers.schema_gate import CANNOT_CHECK, NO_DATABASE, NOT_MIGRATED, SCHEMA_NOT_READY, require_schema

pytestmark = pytest.mark.integration

NOTHING_LISTENS = "postgresql+psycopg://postgres@127.0.0.1:1/docfleet"


def test_a_database_at_this_versions_schema_lets_the_worker_run_without_a_word(database_url: str) -> None:
    with capture_logs() as lines:
        require_schema(database_url)
    assert lines == []


def test_a_database_without_the_schema_ends_the_process_with_75_and_one_line(database_url: str) -> None:
    with (
        throwaway_database(database_url) as empty,
        capture_logs() as lines,
        pytest.raises(SystemExit) as exited,
    ):
        require_schema(empty)
    assert exited.value.code == SCHEMA_NOT_READY
    assert SCHEMA_NOT_READY != 2, "2 tells docfleet supervise that no restart would help"
    [line] = lines
    assert line["event"] == NOT_MIGRATED
    assert line["log_level"] == "error"


def test_a_database_behind_this_version_ends_the_process_too(database_url: str) -> None:
    from tests.support.migrations import alembic

    with throwaway_database(database_url) as behind, capture_logs() as lines:
        alembic(behind, "upgrade", "0006")
        with pytest.raises(SystemExit) as exited:
            require_schema(behind)
    assert exited.value.code == SCHEMA_NOT_READY
    assert [line["event"] for line in lines] == [NOT_MIGRATED]


def test_a_database_a_newer_version_migrated_lets_the_worker_run_with_a_warning(database_url: str) -> None:
    """A rolling deploy: the new release migrated first, the old workers run on until replaced."""
    from adapters.postgres.migrations import upgrade_to_head

    with throwaway_database(database_url) as ahead:
        upgrade_to_head(ahead)
        with single_use_engine(ahead) as engine, engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        with capture_logs() as lines:
            require_schema(ahead)
    [line] = lines
    assert line["log_level"] == "warning"
    assert "9999_from_the_future" in line["detail"]


def test_a_database_that_cannot_be_reached_ends_the_process_rather_than_consume_blind() -> None:
    with capture_logs() as lines, pytest.raises(SystemExit) as exited:
        require_schema(NOTHING_LISTENS)
    assert exited.value.code == SCHEMA_NOT_READY
    [line] = lines
    assert line["event"] == CANNOT_CHECK
    assert line["database"] == "127.0.0.1:1/docfleet"


def test_a_database_nobody_created_yet_is_named_with_the_command_that_creates_it(database_url: str) -> None:
    from sqlalchemy import make_url

    from tests.support.services import unique_name

    never_created = make_url(database_url).set(database=unique_name("docfleet_test_missing"))
    with capture_logs() as lines, pytest.raises(SystemExit) as exited:
        require_schema(never_created.render_as_string(hide_password=False))
    assert exited.value.code == SCHEMA_NOT_READY
    [line] = lines
    assert line["event"] == NO_DATABASE
    assert line["database"].endswith(never_created.database or "")


def test_the_revisions_read_from_the_file_names_are_alembics_own_in_one_line() -> None:
    from adapters.postgres.migrations import _scripts
    from adapters.postgres.schema_revisions import known_revisions

    scripts = _scripts()
    line = [script.revision for script in reversed(list(scripts.walk_revisions()))]  # oldest first
    assert known_revisions() == line
    assert scripts.get_heads() == [line[-1]]
    assert [script.down_revision for script in reversed(list(scripts.walk_revisions()))] == [None, *line[:-1]]


def test_looking_at_the_schema_loads_no_alembic(database_url: str) -> None:
    """It stays in the worker process's memory once loaded: 12 to 15 MiB a process."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom workers.schema_gate import require_schema\n"
        f"require_schema({database_url!r})\nprint(sorted(m for m in sys.modules if m.startswith('alembic')))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
