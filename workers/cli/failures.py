"""Expected failures of a command, each told in one line with its exit code: a service down, a bad argument,
a refusal. Anything else is a bug and keeps its traceback."""

from __future__ import annotations

from enum import IntEnum

from workers.service_urls import location
from workers.settings import Settings


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a service unreachable, a message not taken, no answer in time, nothing found
    USAGE = 2  # a bad option, argument, input file or setting: nothing was done
    REFUSED = 3  # docfleet answered no: not a member, no such folder, a malformed cursor
    INCOMPLETE = 4  # done in part: lines rejected or not taken, dead letters left in place
    UNHEALTHY = 5  # a health check failed
    INTERRUPTED = 130


class CliError(Exception):
    """An expected failure, told in one line."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def load_settings() -> Settings:
    """The settings, checked (the URLs included: ``workers.settings``): a bad one is told in one line
    before anything connects."""
    try:
        return Settings.from_env()
    except ValueError as error:
        raise CliError(f"invalid setting: {error}", ExitCode.USAGE) from None


def explain(error: Exception) -> tuple[str, ExitCode] | None:
    """One line and an exit code for a failure the user can act on; None for anything else."""
    from workers.client import ClientError, InvalidArguments, QueryRefused

    if isinstance(error, CliError):
        return _one_line(str(error)), error.exit_code
    if isinstance(error, InvalidArguments):
        return _one_line(str(error)), ExitCode.USAGE
    if isinstance(error, QueryRefused):
        return _one_line(str(error)), ExitCode.REFUSED
    if isinstance(error, ClientError):
        return _one_line(str(error)), ExitCode.FAILED
    service = service_failure(error)
    return None if service is None else (service, ExitCode.FAILED)


def service_failure(error: BaseException) -> str | None:
    """``<service> at host:port/name: what happened`` when ``error`` is a service's, else None."""
    import dramatiq.errors
    import pika.exceptions
    import psycopg
    import valkey.exceptions
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.postgres.errors import missing_table
    from adapters.rabbitmq.connection_failures import connection_failure
    from adapters.rabbitmq.publisher import PublishError

    try:
        settings = Settings.from_env()
    except ValueError:
        return None
    if isinstance(error, SQLAlchemyError | psycopg.Error):
        hint = " (is the schema there? docfleet migrate makes it)" if missing_table(error) else ""
        return f"Postgres at {location(settings.database_url)}: {first_line(error)}{hint}"
    broker_error = getattr(dramatiq.errors, "BrokerConnectionError", None) or dramatiq.errors.ConnectionError
    if isinstance(error, pika.exceptions.AMQPConnectionError | broker_error):
        return f"RabbitMQ at {location(settings.amqp_url)}: {connection_failure(error)}"
    if isinstance(error, pika.exceptions.AMQPError | PublishError):
        return f"RabbitMQ at {location(settings.amqp_url)}: {first_line(error)}"
    if isinstance(error, valkey.exceptions.ValkeyError):
        return f"Valkey at {location(settings.valkey_url)}: {first_line(error)}"
    return None


def describe(error: Exception) -> str | None:
    """One line for a failure the user can fix; None for anything else (a bug keeps its traceback)."""
    explained = explain(error)
    return None if explained is None else explained[0]


def first_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip() or (repr(cause.args[0]) if cause.args else "")
    return text.splitlines()[0] if text else type(cause).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text or "\r" in text else text
