"""Which database this is, as a text no other database shares."""

from __future__ import annotations

from sqlalchemy import Engine, text

# The cluster's system identifier, drawn at random by initdb, and the database's OID, new at each CREATE
# DATABASE: two databases on one server, one database dropped and made again, or restored from a dump
# into a new one, each read differently. A physical copy (a base backup, a streaming replica) reads the same.
_IDENTITY = text(
    "SELECT (SELECT system_identifier FROM pg_control_system())::text || '-' || oid::text"
    " FROM pg_database WHERE datname = current_database()"
)


def database_identity(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(_IDENTITY).scalar_one())
