"""Whether a database can hold docfleet's schema at all: only in UTF8.

Migration 0008's index normalizes folder names, which Postgres does in UTF8 alone (in another encoding it
would refuse every folder), and SQLAlchemy cannot even read a SQL_ASCII server's answers as text. So this
asks through psycopg alone, which reads any encoding's.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import make_url
from sqlalchemy.engine import URL

from adapters.postgres.engine import (
    DEFAULT_APPLICATION_NAME,
    connect_timeout_default,
    libpq_conninfo,
    with_application_name,
)


class OtherEncoding(RuntimeError):
    """The database is not in UTF8: no migration can give it docfleet's schema."""


def require_utf8(database_url: str) -> None:
    """Nothing for a UTF8 database; ``OtherEncoding``, saying what to do, for any other."""
    problem = encoding_problem(database_url)
    if problem is not None:
        raise OtherEncoding(problem)


def with_connect_timeout(database_url: str | URL) -> str:
    """The URL's connection string, with ten seconds to connect unless the URL sets its own, and named
    as docfleet's other connections are (``with_application_name``)."""
    named = with_application_name(make_url(database_url), DEFAULT_APPLICATION_NAME)
    return make_conninfo(libpq_conninfo(named), **connect_timeout_default(database_url))


ENCODING_SQL = "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"


def encoding_problem(database_url: str) -> str | None:
    """What keeps the database from holding docfleet's schema, in one line; None for a UTF8 one."""
    with psycopg.connect(with_connect_timeout(database_url)) as connection:
        row = connection.execute(ENCODING_SQL).fetchone()
    encoding = row[0] if row else None
    return problem_of(encoding.decode() if isinstance(encoding, bytes) else encoding)


def problem_of(encoding: str | None) -> str | None:
    """``encoding_problem`` for an encoding read already; None for UTF8."""
    if encoding == "UTF8":
        return None
    return (
        f"the database's encoding is {encoding}, and docfleet's schema needs UTF8: nothing changed."
        " Create the database again with ENCODING 'UTF8' TEMPLATE template0 (or drop it and let"
        " docfleet migrate create it)"
    )
