"""Every setting docfleet reads, from environment variables with localhost defaults: the one place.

Each value is checked here (the URLs by ``workers.service_urls``), so that a bad one is told once, by
name, before any process starts work: ``Settings.from_env`` raises ``InvalidSettings`` (a
``ValueError``) naming each variable and what is wrong with it.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from workers.service_urls import check_amqp_url, check_postgres_url, check_valkey_url

_FLAGS = {"1": True, "true": True, "yes": True, "on": True}
_FLAGS |= {"0": False, "false": False, "no": False, "off": False}


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("must be an IP address, such as 0.0.0.0 (every interface) or 127.0.0.1") from None


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _flag(value: object) -> object:
    """A known word as its bool; anything else as given, for the strict bool to refuse."""
    return _FLAGS.get(value.strip().lower(), value) if isinstance(value, str) else value


Port = Annotated[int, Field(ge=1, le=65535)]
Positive = Annotated[int, Field(gt=0)]
NotNegative = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]
PostgresUrl = Annotated[str, Field(min_length=1), AfterValidator(check_postgres_url)]
AmqpUrl = Annotated[str, Field(min_length=1), AfterValidator(check_amqp_url)]
ValkeyUrl = Annotated[str, Field(min_length=1), AfterValidator(check_valkey_url)]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)]
Flag = Annotated[bool, BeforeValidator(_flag), Field(strict=True)]
IpAddress = Annotated[str, AfterValidator(_ip_address)]


class _Environment(BaseModel):
    """The variables as read; an unset or empty one takes its default."""

    model_config = ConfigDict(strict=False, extra="forbid", hide_input_in_errors=True, frozen=True)

    DATABASE_URL: PostgresUrl = "postgresql+psycopg://postgres@127.0.0.1:5432/docfleet"
    VALKEY_URL: ValkeyUrl = "redis://127.0.0.1:6379/0"
    AMQP_URL: AmqpUrl = "amqp://guest:guest@127.0.0.1:5672/%2F"
    CACHE_PREFIX: str = "docfleet:"
    CACHE_TTL_SECONDS: Positive = 3600
    RESULT_TTL_MS: Positive = 60_000
    LOG_LEVEL: LogLevel = "INFO"
    METRICS_ENABLED: Flag = True
    # A Procfile runner (honcho) hands each process a PORT of its own: with several worker fleets on one
    # host (`honcho start -c worker=3`) each then serves its metrics on a port of its own.
    WORKER_METRICS_PORT: Port | None = None
    PORT: Port | None = None
    METRICS_BIND_ADDRESS: IpAddress = "0.0.0.0"  # scraped from outside the container or host by default
    RELAY_METRICS_PORT: Port = 9192
    AUDIT_METRICS_PORT: Port = 9193
    AUDIT_QUEUE: Text = "docfleet.audit"
    # Commands sharing one transaction at most; 0: as many as the worker has threads, 1: none.
    GROUP_COMMIT_MAX_BATCH: NotNegative = 0
    # Documents of decoded listings each worker process keeps in front of Valkey; 0: none.
    LISTING_MEMORY_DOCUMENTS: NotNegative = 20_000


VARIABLES: tuple[str, ...] = tuple(_Environment.model_fields)
"""Every environment variable docfleet's settings read."""


class InvalidSettings(ValueError):
    """One or more variables hold a value docfleet cannot use; ``problems`` names each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    database_url: str
    valkey_url: str
    amqp_url: str
    cache_prefix: str
    cache_ttl_seconds: int
    result_ttl_ms: int
    log_level: str
    metrics_enabled: bool
    worker_metrics_port: int
    relay_metrics_port: int
    audit_metrics_port: int
    audit_queue: str
    group_commit_max_batch: int = 0
    listing_memory_documents: int = 20_000
    metrics_bind_address: str = "0.0.0.0"

    @classmethod
    def from_env(cls) -> Settings:
        """The settings from the environment; raises ``InvalidSettings`` if any value is unusable."""
        given = {name: os.environ.get(name) for name in _Environment.model_fields}
        if given["WORKER_METRICS_PORT"]:
            given.pop("PORT")  # a fallback only: a stray PORT must not matter when the port is set
        try:
            env = _Environment.model_validate({name: value for name, value in given.items() if value})
        except ValidationError as error:
            raise InvalidSettings([_problem(detail) for detail in error.errors(include_url=False)]) from None
        return cls(
            database_url=env.DATABASE_URL,
            valkey_url=env.VALKEY_URL,
            amqp_url=env.AMQP_URL,
            cache_prefix=env.CACHE_PREFIX,
            cache_ttl_seconds=env.CACHE_TTL_SECONDS,
            result_ttl_ms=env.RESULT_TTL_MS,
            log_level=env.LOG_LEVEL,
            metrics_enabled=env.METRICS_ENABLED,
            worker_metrics_port=env.WORKER_METRICS_PORT or env.PORT or 9191,
            relay_metrics_port=env.RELAY_METRICS_PORT,
            audit_metrics_port=env.AUDIT_METRICS_PORT,
            audit_queue=env.AUDIT_QUEUE,
            group_commit_max_batch=env.GROUP_COMMIT_MAX_BATCH,
            listing_memory_documents=env.LISTING_MEMORY_DOCUMENTS,
            metrics_bind_address=env.METRICS_BIND_ADDRESS,
        )


def _problem(detail: object) -> str:
    """``NAME: what is wrong``; pydantic's own words, without the value (it may be a secret)."""
    assert isinstance(detail, dict)
    name = ".".join(str(part) for part in detail["loc"] if not str(part).isdigit()) or "?"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if detail["type"] == "bool_type":
        message = "must be one of 1, true, yes, on, 0, false, no, off"
    return f"{name}: {message[0].lower()}{message[1:]}"
