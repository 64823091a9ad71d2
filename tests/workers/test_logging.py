"""Log lines: JSON off a terminal, a console on one, and never a password from a URL."""

from __future__ import annotations

import io
import json
import logging
import select
import sys
import threading

import pytest
import structlog

from workers.logging import ShortLinesDirect, configure_logging, redact, worker_lines_stream

SECRET = "s3cr@t-pw"


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://guest:***@127.0.0.1:5672/%2F"),
        (f"postgresql+psycopg://app:{SECRET}@db/docfleet", "postgresql+psycopg://app:***@db/docfleet"),
        ("redis://:pw@valkey:6379/0 then amqp://u:p@mq/", "redis://:***@valkey:6379/0 then amqp://u:***@mq/"),
        ("https://example.com/a@b and no credentials", "https://example.com/a@b and no credentials"),
    ],
)
def test_passwords_in_urls_are_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_lines_off_a_terminal_are_json_and_carry_no_password(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=True)
    url = f"amqp://docfleet:{SECRET}@mq:5672/%2F"
    structlog.get_logger("docfleet.test").info(
        "connecting", url=url, nested={"urls": [url], "pair": (url, 1)}
    )
    logging.getLogger("pika").warning("lost %s", url)

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    assert [line["event"] for line in lines] == ["connecting", "lost amqp://docfleet:***@mq:5672/%2F"]
    assert lines[0]["url"] == "amqp://docfleet:***@mq:5672/%2F"
    assert lines[0]["nested"]["urls"] == ["amqp://docfleet:***@mq:5672/%2F"]
    assert SECRET not in json.dumps(lines)


def test_lines_on_a_terminal_are_readable_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_lines=False)
    structlog.get_logger("docfleet.test").info("applied", message_id="m-1")

    text = capsys.readouterr().err

    assert "applied" in text
    assert "message_id" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


class _Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_docfleet_lines_skip_the_standard_library_and_keep_their_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json_lines=True)
    counting = _Counting()
    logging.getLogger().addHandler(counting)
    structlog.get_logger("docfleet.worker").info("applied", outcome="applied", message_id="m-1")
    structlog.get_logger("docfleet.worker").debug("below the level")
    logging.getLogger("dramatiq").info("a library's line")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    assert [record.getMessage() for record in counting.records] == ["a library's line"]
    assert [(line["event"], line["level"], line["logger"]) for line in lines] == [
        ("applied", "info", "docfleet.worker"),
        ("a library's line", "info", "dramatiq"),
    ]
    assert lines[0]["message_id"] == "m-1"
    assert lines[0]["timestamp"].endswith("Z")


class _Stream(io.StringIO):
    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_a_worker_writes_short_lines_itself_and_relays_long_ones_through_dramatiq() -> None:
    direct, relayed = _Stream(), _Stream()
    stream = ShortLinesDirect(direct, relayed)
    short, ascii_at_the_limit = "x" * 80 + "\n", "a" * (select.PIPE_BUF - 1) + "\n"
    too_long, wide = "b" * select.PIPE_BUF + "\n", "é" * (select.PIPE_BUF // 2) + "\n"

    for line in (short, ascii_at_the_limit, too_long, wide):
        stream.write(line)
    stream.flush()

    assert direct.getvalue() == short + ascii_at_the_limit
    assert relayed.getvalue() == too_long + wide
    assert direct.flushes == 1


def test_only_a_process_whose_stderr_was_replaced_writes_past_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = _Stream()
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    assert worker_lines_stream() is sys.__stderr__
    monkeypatch.setattr(sys, "stderr", pipe)
    assert isinstance(worker_lines_stream(), ShortLinesDirect)
    monkeypatch.setattr(sys, "argv", ["dramatiq", "workers.actors", "--log-file", "fleet.log"])
    assert worker_lines_stream() is pipe


def test_a_line_logged_while_its_own_thread_is_mid_line_does_not_wait_forever() -> None:
    """As a stop signal's handler does when it interrupts its thread in the middle of a line."""
    stream = _Stream()
    configure_logging("INFO", json_lines=True, own_lines_to=stream)
    log = structlog.get_logger("docfleet.worker")
    outer = structlog.get_logger("docfleet.worker").bind()

    def interrupted_mid_line() -> None:
        log.info("first")
        lock = structlog.get_config()["logger_factory"]._lock  # shared by every writer of the stream
        with lock:  # the thread is inside a line's write
            outer.info("from the signal handler")

    thread = threading.Thread(target=interrupted_mid_line, daemon=True)
    thread.start()
    thread.join(timeout=5)

    assert not thread.is_alive(), "the nested line waited on a lock its own thread held"
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == [
        "first",
        "from the signal handler",
    ]


class _Refusing(_Stream):
    def write(self, text: str) -> int:
        raise RuntimeError("reentrant call inside <_io.BufferedWriter name='<stderr>'>")


def test_a_line_that_cannot_be_written_is_dropped_not_raised_into_the_work() -> None:
    configure_logging("INFO", json_lines=True, own_lines_to=_Refusing())

    structlog.get_logger("docfleet.worker").info("applied", message_id="m-1")


@pytest.mark.parametrize(
    "url",
    ["amqp://guest:guest@127.0.0.1:9/%2F", "amqp://guest:guest@127.0.0.1:5672/docfleet-no-such-vhost"],
    ids=["refused", "no such virtual host"],
)
def test_a_connection_that_never_opened_is_one_exception_not_pikas_lines_about_it(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each consumer of a worker whose RabbitMQ was down or its vhost missing logged six of pika's lines
    every time it tried, around the one line of Dramatiq's that says what happened."""
    import pika
    import pika.exceptions

    from adapters.rabbitmq.confirmed_channel import PublishError
    from adapters.rabbitmq.publisher import EventPublisher

    configure_logging("INFO", json_lines=True)
    with pytest.raises(pika.exceptions.AMQPConnectionError):  # as Dramatiq's consumers connect
        pika.BlockingConnection(pika.URLParameters(url + "?connection_attempts=1&socket_timeout=5"))
    with pytest.raises(PublishError):  # as the relay connects
        EventPublisher(url, timeout=5.0, name="logging-test")
    logging.getLogger("pika.connection").warning("a line of pika's about an open connection")

    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]

    assert events == ["a line of pika's about an open connection"]
