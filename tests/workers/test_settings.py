"""Settings from the environment: defaults, and every unusable value refused by name, its value unshown."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from workers.settings import VARIABLES, InvalidSettings, Settings

HERE = Path(__file__)  # a file that is no PEM


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_unset_and_empty_variables_take_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHE_TTL_SECONDS", "")
    settings = Settings.from_env()
    assert settings.cache_ttl_seconds == 3600
    assert settings.result_ttl_ms == 60_000  # docs/contract.md promises it to producers of queries
    assert (settings.log_level, settings.metrics_enabled) == ("INFO", True)
    assert (settings.worker_metrics_port, settings.relay_metrics_port) == (9191, 9192)
    assert settings.database_url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("CACHE_TTL_SECONDS", "0", "CACHE_TTL_SECONDS: input should be greater than 0"),
        ("CACHE_TTL_SECONDS", "soon", "CACHE_TTL_SECONDS: input should be a valid integer"),
        ("RESULT_TTL_MS", "-1", "RESULT_TTL_MS: input should be greater than 0"),
        ("LOG_LEVEL", "verbose", "LOG_LEVEL: input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or"),
        ("METRICS_ENABLED", "ture", "METRICS_ENABLED: must be one of 1, true, yes, on, 0, false, no, off"),
        ("RELAY_METRICS_PORT", "70000", "RELAY_METRICS_PORT: input should be less than or equal to 65535"),
        ("WORKER_METRICS_PORT", "0", "WORKER_METRICS_PORT: input should be greater than or equal to 1"),
        ("PORT", "http", "PORT: input should be a valid integer"),
        (
            "GROUP_COMMIT_MAX_BATCH",
            "-2",
            "GROUP_COMMIT_MAX_BATCH: input should be greater than or equal to 0",
        ),
        ("LISTING_MEMORY_DOCUMENTS", "1e3", "LISTING_MEMORY_DOCUMENTS: input should be a valid integer"),
    ],
)
def test_an_unusable_value_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env()
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith(problem)
    assert value not in str(refused.value).replace(problem, "")


@pytest.mark.parametrize(
    ("name", "url", "problem"),
    [
        (
            "DATABASE_URL",
            "mysql://root:s3cret@db/docfleet",
            "DATABASE_URL: expected a URL such as postgresql",
        ),
        (
            "DATABASE_URL",
            "postgresql+psycopg://postgres:s3cret@127.0.0.1:5432",
            "DATABASE_URL: names no database",
        ),
        ("DATABASE_URL", "postgresql://postgres:s3cret@/docfleet", "DATABASE_URL: names no host"),
        ("AMQP_URL", "http://guest:s3cret@127.0.0.1:5672/", "AMQP_URL: expected a URL such as amqp://"),
        (
            "AMQP_URL",
            "amqp://guest:s3cret@h/%2F?heartbeat=30s",
            "AMQP_URL: unusable (Invalid heartbeat value",
        ),
        ("AMQP_URL", "amqp://guest:s3cret@h/%2F?hearbeat=30", "AMQP_URL: unusable (Unknown URL parameter"),
        (
            "DATABASE_URL",
            "postgresql+psycopg://app:s3cret@db/docfleet?connect_timout=5",
            'DATABASE_URL: unusable (invalid connection option "connect_timout")',
        ),
        ("VALKEY_URL", "http://:s3cret@h:6379/0", "VALKEY_URL: expected a URL such as redis://"),
        ("VALKEY_URL", "redis://:s3cret@h:6379/0?socket_timeout=abc", "VALKEY_URL: unusable (Invalid value"),
        ("VALKEY_URL", "redis://:s3cret@h:6379/1O", "VALKEY_URL: the database index"),
        ("VALKEY_URL", "redis://:s3cret@h:6379/cache", "VALKEY_URL: the database index"),
        ("VALKEY_URL", "redis://:s3cret@h:6379/%C2%B2", "VALKEY_URL: the database index"),  # a digit, not 0-9
        # a password with an unencoded / or # reads as a port: the parsers' own words would quote it
        (
            "DATABASE_URL",
            "postgresql+psycopg://app:s3cret/x@db/docfleet",
            "DATABASE_URL: malformed host or port",
        ),
        ("AMQP_URL", "amqp://guest:s3cret#x@rabbit:5672/%2F", "AMQP_URL: malformed host or port"),
        # a numeric password cut short reads as a valid port: the user name would be taken for the host
        ("AMQP_URL", "amqp://s3cret:12345#x@rabbit:5672/%2F", "AMQP_URL: malformed host or port"),
        ("VALKEY_URL", "redis://:s3cret/x@valkey:6379/0", "VALKEY_URL: malformed host or port"),
        # an unencoded "@": SQLAlchemy splits at the first one, and would name "s3cret@db" as the host
        ("DATABASE_URL", "postgresql://app:x@s3cret@db/docfleet", "DATABASE_URL: malformed host or port"),
        (
            "AMQP_URL",
            "amqp://guest:s3cret@h/%2F?heartbeat=s3cret",
            "AMQP_URL: unusable (Invalid heartbeat value",
        ),
        # a CA file not mounted yet, read by pika as it parses the URL
        (
            "AMQP_URL",
            f"amqps://guest:s3cret@h/%2F?ssl_options={quote(repr({'ca_certs': '/nowhere/ca.pem'}))}",
            "AMQP_URL: unusable (a file its TLS options name cannot be used: ca_certs /nowhere/ca.pem does"
            " not exist)",
        ),
        (
            "AMQP_URL",
            f"amqps://guest:s3cret@h/%2F?ssl_options={quote(repr({'ca_certs': str(Path(__file__))}))}",
            f"AMQP_URL: unusable (a file its TLS options name cannot be used: ca_certs {HERE}: [X509",
        ),
        # every missing file is named; the key's password, never
        (
            "AMQP_URL",
            "amqps://guest:s3cret@h/%2F?ssl_options="
            + quote(repr({"ca_certs": str(HERE), "certfile": "/nowhere/c.pem", "password": "s3cret"})),
            "AMQP_URL: unusable (a file its TLS options name cannot be used: certfile /nowhere/c.pem does not"
            " exist)",
        ),
        ("AMQP_URL", "amqps://guest:s3cret@h/%2F?ssl_options='x'", "AMQP_URL: unusable ("),  # not a dict
        # Valkey's client reads its TLS files only as it connects: they are read at start instead
        (
            "VALKEY_URL",
            "rediss://:s3cret@h:6380/0?ssl_ca_certs=/nowhere/ca.pem",
            "VALKEY_URL: unusable (a file its TLS options name cannot be used: ssl_ca_certs /nowhere/ca.pem"
            " does not exist)",
        ),
        (
            "VALKEY_URL",
            f"rediss://:s3cret@h:6380/0?ssl_certfile=/nowhere/client.pem&ssl_keyfile={quote(__file__)}",
            "VALKEY_URL: unusable (a file its TLS options name cannot be used: ssl_certfile"
            " /nowhere/client.pem does not exist)",
        ),
        (
            "VALKEY_URL",
            f"rediss://:s3cret@h:6380/0?ssl_ca_certs={quote(str(Path(__file__)))}",
            f"VALKEY_URL: unusable (a file its TLS options name cannot be used: ssl_ca_certs {HERE}: [X509",
        ),
        (
            "VALKEY_URL",
            "rediss://:s3cret@h:6380/0?ssl_cert_reqs=sometimes",
            "VALKEY_URL: unusable (Invalid SSL Certificate Requirements Flag: sometimes",
        ),
        # Dramatiq would split these at the ";", and connect to a host named by part of the password
        ("AMQP_URL", "amqp://guest:s3c;ret@rabbit:5672/%2F", "AMQP_URL: a ';' (several hosts"),
        ("AMQP_URL", "amqp://guest:s3cret@a/%2F;amqp://guest:s3cret@b/%2F", "AMQP_URL: a ';' (several hosts"),
        # options cut short at an unencoded "#": the client key's password must not be repeated
        (
            "AMQP_URL",
            "amqps://guest:x@h/%2F?ssl_options=" + quote("{'certfile': '/c.pem', 'password': 's3cret'"),
            "AMQP_URL: unusable ('{' was never closed",
        ),
    ],
)
def test_a_url_the_processes_could_not_use_is_refused_without_its_password(
    monkeypatch: pytest.MonkeyPatch, name: str, url: str, problem: str
) -> None:
    monkeypatch.setenv(name, url)
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env()
    assert refused.value.problems[0].startswith(problem)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(("url", "database"), [("redis://h:6379/1/", 1), ("redis://h:6379/%31", 1)])
def test_a_valkey_database_index_is_read_as_the_client_reads_it(
    monkeypatch: pytest.MonkeyPatch, url: str, database: int
) -> None:
    import valkey

    monkeypatch.setenv("VALKEY_URL", url)
    assert Settings.from_env().valkey_url == url
    assert valkey.ConnectionPool.from_url(url).connection_kwargs["db"] == database  # type: ignore[no-untyped-call]


def test_a_postgres_url_through_a_unix_socket_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://postgres@/docfleet?host=/var/run/postgresql"
    monkeypatch.setenv("DATABASE_URL", url)
    assert Settings.from_env().database_url == url


@pytest.mark.parametrize(
    ("name", "url"),
    [("AMQP_URL", "amqp://guest:gu@est@rabbit:5672/%2F"), ("VALKEY_URL", "redis://:p@ss@valkey:6379/0")],
)
def test_an_amqp_or_valkey_password_with_an_unencoded_at_is_accepted(
    monkeypatch: pytest.MonkeyPatch, name: str, url: str
) -> None:
    """Their clients split at the last "@", as the password's owner meant; only SQLAlchemy does not."""
    monkeypatch.setenv(name, url)
    Settings.from_env()


def test_every_unusable_value_is_told_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESULT_TTL_MS", "0")
    monkeypatch.setenv("AUDIT_METRICS_PORT", "x")
    with pytest.raises(InvalidSettings) as refused:
        Settings.from_env()
    assert [problem.split(":")[0] for problem in refused.value.problems] == [
        "RESULT_TTL_MS",
        "AUDIT_METRICS_PORT",
    ]


@pytest.mark.parametrize(("value", "enabled"), [("Off", False), ("no", False), ("0", False), (" YES ", True)])
def test_metrics_take_the_usual_words_in_any_case(
    monkeypatch: pytest.MonkeyPatch, value: str, enabled: bool
) -> None:
    monkeypatch.setenv("METRICS_ENABLED", value)
    assert Settings.from_env().metrics_enabled is enabled


def test_the_log_level_is_read_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")
    assert Settings.from_env().log_level == "WARNING"


def test_port_is_the_workers_metrics_port_only_when_none_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "5100")
    assert Settings.from_env().worker_metrics_port == 5100
    monkeypatch.setenv("WORKER_METRICS_PORT", "9300")
    assert Settings.from_env().worker_metrics_port == 9300
    monkeypatch.setenv("PORT", "not a port")  # a runner's stray PORT does not matter then
    assert Settings.from_env().worker_metrics_port == 9300


@pytest.mark.parametrize(
    ("given", "read"), [("127.0.0.1", "127.0.0.1"), (" ::1 ", "::1"), ("0.0.0.0", "0.0.0.0")]
)
def test_the_metrics_address_is_an_ip_address(monkeypatch: pytest.MonkeyPatch, given: str, read: str) -> None:
    monkeypatch.setenv("METRICS_BIND_ADDRESS", given)
    assert Settings.from_env().metrics_bind_address == read


def test_a_metrics_address_that_is_no_ip_address_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_BIND_ADDRESS", "localhost:9191")
    with pytest.raises(InvalidSettings, match=r"METRICS_BIND_ADDRESS: must be an IP address"):
        Settings.from_env()
