"""The compose override `ensure-services` falls back on serves the default settings as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from workers.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _override() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.local.yml").read_text())
    services: dict[str, Any] = loaded["services"]
    return services


def _published_port(service: dict[str, Any]) -> int:
    [mapping] = service["ports"]
    host, host_port, _container_port = mapping.split(":")
    assert host == "127.0.0.1", "infrastructure is published on loopback only"
    return int(host_port)


def test_each_service_is_published_where_the_default_settings_look(monkeypatch: Any) -> None:
    for name in ("DATABASE_URL", "VALKEY_URL", "AMQP_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    services = _override()

    assert _published_port(services["postgres"]) == make_url(settings.database_url).port
    assert _published_port(services["valkey"]) == make_url(settings.valkey_url).port
    assert _published_port(services["rabbitmq"]) == make_url(settings.amqp_url).port


def test_the_default_credentials_are_accepted(monkeypatch: Any) -> None:
    monkeypatch.delenv("AMQP_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings.from_env()
    services = _override()
    amqp = make_url(settings.amqp_url)

    assert services["postgres"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert make_url(settings.database_url).password is None
    assert services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"] == amqp.username
    assert services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"] == amqp.password
