"""Where a database's schema stands against this version's migrations, without loading Alembic.

A worker process looks at its database's schema when it boots (``workers.schema_gate``), as ``docfleet
health`` and ``scripts/check_migrations.py`` do. Alembic, its templates and the migrations' modules
would then stay in every worker process's memory: 12 to 15 MiB each, measured, on a worker of about 75.
The migration files are named ``<revision>_<what>.py`` and form a single line, each revising the one
before; ``tests/workers/test_schema_gate.py`` holds that against Alembic's own reading of them, so that
the two can never disagree unseen.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, text

from adapters.postgres.database_encoding import ENCODING_SQL, OtherEncoding, problem_of, require_utf8
from adapters.postgres.engine import single_use_engine

VERSIONS = Path(__file__).with_name("migrations") / "versions"
# A revision this version does not know is a newer docfleet's only where docfleet's tables are: else
# another application's migrations keep their alembic_version in this schema.
_HAS_DOCFLEET_TABLES_SQL = "SELECT to_regclass('folders') IS NOT NULL"


class ForeignRevision(RuntimeError):
    """The schema's alembic_version names a revision no docfleet wrote, and it holds no docfleet table."""

    def __init__(self, revisions: set[str]) -> None:
        names = ", ".join(sorted(revisions))
        super().__init__(
            f"the database's alembic_version is at revision {names}, and it holds none of docfleet's"
            " tables: another application's migrations keep their version in this schema; nothing"
            " changed. Give docfleet a database, or a schema (DATABASE_URL's search_path), of its own"
        )


class UnknownRevision(RuntimeError):
    """The database is at a revision this version does not have: a newer version migrated it."""

    def __init__(self, revisions: set[str]) -> None:
        names = ", ".join(sorted(revisions))
        unknown = f"the database is at revision {names}, which this version does not know"
        super().__init__(f"{unknown}: a newer version migrated it")


def known_revisions() -> list[str]:
    """This version's revisions, oldest first."""
    return sorted(path.name.partition("_")[0] for path in VERSIONS.glob("[0-9]*_*.py"))


def is_at_head(database_url: str, *, statement_timeout_ms: int | None = None) -> bool:
    """Whether the schema is at this version's latest migration (False with no schema at all, nor with
    another application's revision and none of docfleet's tables); ``UnknownRevision`` if it is ahead,
    ``OtherEncoding`` if the database cannot hold it. The encoding is read on the same connection, but
    for a SQL_ASCII server, whose answers SQLAlchemy cannot read at all (its version string comes as
    bytes, a ``TypeError`` as it connects): that one is asked through psycopg alone."""
    try:
        with (
            single_use_engine(database_url, statement_timeout_ms=statement_timeout_ms) as engine,
            engine.connect() as connection,
        ):
            return _at_head(connection)
    except TypeError:
        require_utf8(database_url)
        raise


def _at_head(connection: Connection) -> bool:
    problem = problem_of(connection.scalar(text(ENCODING_SQL)))
    if problem is not None:
        raise OtherEncoding(problem)
    has_table = connection.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    current: set[str] = set()
    if has_table:
        current = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    known = known_revisions()
    try:
        refuse_unknown(connection, current - set(known))
    except ForeignRevision:
        return False
    return current == {known[-1]}


def refuse_unknown(connection: Connection, unknown: set[str]) -> None:
    """Nothing if ``unknown``, the revisions this version does not have, is empty; else
    ``UnknownRevision`` where docfleet's tables are (a newer docfleet migrated the schema), and
    ``ForeignRevision`` where they are not. Docfleet's tables are asked about only then: the workers'
    boot and every health check come here."""
    if not unknown:
        return
    if not connection.scalar(text(_HAS_DOCFLEET_TABLES_SQL)):
        raise ForeignRevision(unknown)
    raise UnknownRevision(unknown)
