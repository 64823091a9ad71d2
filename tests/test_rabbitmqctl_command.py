"""The tests reach RabbitMQ's administration where the services run: installed here, or in a container."""

from __future__ import annotations

import pytest

from tests.support import services


def test_the_local_rabbitmqctl_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/sbin/{name}")
    assert services.rabbitmqctl_command() == ["rabbitmqctl"]


def test_without_one_the_local_compose_projects_container_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    command = services.rabbitmqctl_command()
    assert command[:4] == ["docker", "compose", "-p", "docfleet-local"]
    assert command[-4:] == ["exec", "-T", "rabbitmq", "rabbitmqctl"]
    names = ["docker-compose.yml", "docker-compose.local.yml"]
    files = [command[index + 1] for index, part in enumerate(command) if part == "-f"]
    assert files == [str(services.ROOT / name) for name in names], "the files ensure-services starts it with"
    assert all((services.ROOT / name).is_file() for name in names)
