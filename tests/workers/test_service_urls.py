"""What an error line may say of a service URL: where it points, never its credentials."""

from __future__ import annotations

import pytest

from workers.service_urls import location


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+psycopg://docfleet:s3cret@db.internal:5433/docfleet", "db.internal:5433/docfleet"),
        ("amqp://guest:guest@rabbit/%2F", "rabbit:-/%2F"),
        ("redis://:s3cret@cache:6379/0", "cache:6379/0"),
        ("postgresql://docfleet@/docfleet?host=/run/postgresql", "/run/postgresql:-/docfleet"),
    ],
)
def test_the_location_names_host_port_and_path_only(url: str, said: str) -> None:
    assert location(url) == said


def test_a_default_port_stands_in_for_a_missing_one() -> None:
    assert location("amqp://guest:guest@rabbit/%2F", default_port=5672) == "rabbit:5672/%2F"


def test_a_port_that_cannot_be_read_is_shown_as_written() -> None:
    assert location("amqp://rabbit:99999/%2F", default_port=5672) == "rabbit:99999/%2F"


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:12345#x@rabbit/%2F",  # the # ends the host part: "12345" reads as the port
        "postgresql://docfleet:12/34@db/docfleet",  # so does the /
        "amqp://[::1/%2F",  # not even split
    ],
)
def test_a_url_whose_host_part_may_hold_the_password_is_not_quoted(url: str) -> None:
    said = location(url)
    assert said == "(a malformed URL)"
    assert "12" not in said
