"""A worker process takes no message from a database that lacks this version's schema: ``require_schema``.

Without it, a worker started against a database nobody migrated reports ready, and each command fails
on a missing table until its retries run out and it is dead-lettered (about 27 s), though nothing was
wrong with the command. The relay, which has no messages to lose, logs a hint and retries instead
(``workers.relay``).

The check runs once per worker process, in ``Resources.before_worker_boot``, before Dramatiq starts
its consumer threads. Failing, it logs one line and ends the process with ``SCHEMA_NOT_READY``
(a ``SystemExit``: Dramatiq's hooks log and swallow an exception, not that), or, for a database that
no migration can make usable, with ``DATABASE_UNUSABLE``. Dramatiq's main process
then stops the other worker processes and exits with that code, and ``docfleet supervise --restart
always`` (the Procfile) or the platform's restart policy (the compose file) starts the fleet again,
backing off, until ``docfleet migrate`` has run; ``docfleet supervise`` does not restart it after
``DATABASE_UNUSABLE``. Waiting inside the hook instead would leave the fleet
looking started, and a SIGTERM only sets Dramatiq's flag there: the process would not stop until killed.

The audit consumer (``docfleet audit``) makes the same check once at its start, for the same reason: it
would otherwise report itself connected and meet the missing table only with the first event.

A schema ahead of this version (a newer release migrated it, during a rolling deploy) lets the worker
run, with a warning: migrations keep the schema usable by the release before them, and ``docfleet
health`` reports it as not at this version's head, as it does.
"""

from __future__ import annotations

from typing import Any

import structlog

from workers.service_urls import location

SCHEMA_NOT_READY = 75
"""The worker process's exit code when the schema is missing, behind, or cannot be checked: EX_TEMPFAIL
(sysexits.h), "try again later", which a supervisor restarts; not 2, which ``docfleet supervise`` takes
for "cannot start" and does not restart, nor one of Dramatiq's own (1, 3, 4)."""

DATABASE_UNUSABLE = 2
"""The exit code when the database can never hold docfleet's schema (not UTF8): ``DATABASE_URL`` names
the wrong database, a bad setting, which ``docfleet supervise`` does not restart, as no restart and no
migration would mend it."""

NOT_MIGRATED = "the database has no docfleet schema at this version: run `docfleet migrate`"
NO_DATABASE = "the database does not exist: run `docfleet migrate`, which creates it"
CANNOT_CHECK = "cannot check the database schema: not consuming"

log = structlog.get_logger("docfleet.worker")


def require_schema(database_url: str, logger: Any = log) -> None:
    """Returns if the database is at this version's latest migration, or ahead of it; otherwise logs
    one line with ``logger`` and raises ``SystemExit(SCHEMA_NOT_READY)``."""
    import psycopg
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.postgres.database_encoding import OtherEncoding
    from adapters.postgres.schema_revisions import UnknownRevision, is_at_head

    database = location(database_url)
    try:
        if is_at_head(database_url):
            return
    except UnknownRevision as ahead:
        logger.warning(
            "database schema is ahead of this version: running on", database=database, detail=str(ahead)
        )
        return
    except OtherEncoding as unusable:
        logger.error(
            "the database cannot hold docfleet's schema: not consuming",
            database=database,
            detail=str(unusable),
        )
        raise SystemExit(DATABASE_UNUSABLE) from None
    except (SQLAlchemyError, psycopg.Error, OSError) as error:
        _tell_unchecked(database_url, error, logger)
        raise SystemExit(SCHEMA_NOT_READY) from None
    logger.error(NOT_MIGRATED, database=database)
    raise SystemExit(SCHEMA_NOT_READY)


def _tell_unchecked(database_url: str, error: Exception, logger: Any) -> None:
    """Logs why the schema could not be looked at: a database nobody created yet, or ``error``."""
    from adapters.postgres.migrations import is_missing
    from workers.cli.failures import first_line

    if is_missing(database_url):
        logger.error(NO_DATABASE, database=location(database_url))
    else:
        logger.error(CANNOT_CHECK, database=location(database_url), error=first_line(error))
