"""The one-command subcommands and ``folder ls`` through the CLI, on the real services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest
from typer.testing import Result

from tests.cli.support import bodies, environment, is_member, one_line_error, ready_count, run
from tests.conftest import IdMaker
from tests.e2e.fleet import BIN
from tests.support.waiting import wait_for
from workers.service_urls import location
from workers.settings import Settings

COMMANDS = [
    ["member", "add"],
    ["folder", "create"],
    ["folder", "ls"],
    ["upload"],
    ["share"],
    ["revoke"],
    ["bulk"],
    ["dlq", "ls"],
    ["dlq", "show"],
    ["dlq", "replay"],
    ["dlq", "purge"],
    ["outbox", "status"],
    ["outbox", "prune"],
    ["inbox", "prune"],
    ["health"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_each_command_explains_itself_with_an_example(command: list[str]) -> None:
    from typer.testing import CliRunner

    from workers.cli.app import app

    result = CliRunner().invoke(app, [*command, "--help"])

    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert f"docfleet {' '.join(command)}" in result.stdout


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "actor", "kwargs"),
    [
        (["member", "add", "acme", "alice"], "add_member", {"org_id": "acme", "user_id": "alice"}),
        (
            ["folder", "create", "f-1", "--org", "acme", "--name", "Reports", "--by", "alice"],
            "create_folder",
            {
                "folder_id": "f-1",
                "org_id": "acme",
                "name": "Reports",
                "parent_id": None,
                "created_by": "alice",
            },
        ),
        (
            ["share", "doc-1", "--by", "alice", "--with", "bob", "--role", "editor"],
            "share_document",
            {"doc_id": "doc-1", "shared_by": "alice", "shared_with": "bob", "role": "editor"},
        ),
        (
            ["revoke", "doc-1", "--by", "alice", "--user", "bob"],
            "revoke_access",
            {"doc_id": "doc-1", "revoked_by": "alice", "user_id": "bob"},
        ),
    ],
)
def test_a_command_is_sent_and_its_message_id_printed(
    settings: Settings, args: list[str], actor: str, kwargs: dict[str, object]
) -> None:
    result = run(settings, *args)

    assert result.exit_code == 0, result.output
    [sent] = bodies(settings.amqp_url, "documents")
    assert result.stdout == f"{sent['message_id']}\n"
    assert (sent["actor_name"], sent["kwargs"]) == (actor, kwargs)


@pytest.mark.integration
def test_upload_sends_tags_and_a_given_message_id(settings: Settings) -> None:
    args = ["upload", "doc-9", "--org", "acme", "--folder", "f-1", "--owner", "alice", "--name", "a b.pdf"]
    args += [
        "--mime-type",
        "application/pdf",
        "--blob-uri",
        "s3://bucket/doc-9.pdf",
        "--tag",
        "x",
        "--tag",
        "y",
    ]
    result = run(settings, *args, "--message-id", "upload-doc-9")

    assert result.exit_code == 0, result.output
    [sent] = bodies(settings.amqp_url, "documents")
    assert (result.stdout, sent["message_id"]) == ("upload-doc-9\n", "upload-doc-9")
    assert sent["kwargs"]["tags"] == ["x", "y"]


@pytest.mark.integration
def test_an_invalid_argument_is_one_line_exit_2_and_nothing_is_sent(settings: Settings) -> None:
    args = ["upload", "doc-9", "--org", "acme", "--folder", "f-1", "--owner", "alice", "--name", "a.pdf"]
    result = run(settings, *args, "--mime-type", "application/pdf", "--blob-uri", "http://host/a.pdf")

    assert result.exit_code == 2
    line = one_line_error(result)
    assert "invalid upload_document arguments: blob_uri: must be an absolute URI" in line
    assert not ready_count(settings.amqp_url, "documents")


@pytest.mark.integration
def test_rabbitmq_down_is_one_line_exit_1(settings: Settings) -> None:
    result = run(settings, "member", "add", "acme", "alice", AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F")

    assert result.exit_code == 1
    line = one_line_error(result)
    assert "RabbitMQ at 127.0.0.1:1" in line
    assert "guest:guest" not in line


def test_an_unknown_role_is_a_usage_error() -> None:
    from typer.testing import CliRunner

    from workers.cli.app import app

    result = CliRunner().invoke(app, ["share", "doc-1", "--by", "a", "--with", "b", "--role", "admin"])

    assert result.exit_code == 2
    assert "'admin' is not one of" in result.stderr


def add_folder_with_a_document(settings: Settings, org: str, folder: str, doc: str) -> None:
    """alice, a member of org, creates the folder and uploads ``doc`` into it, each step through the CLI."""
    assert run(settings, "member", "add", org, "alice").exit_code == 0
    wait_for(lambda: is_member(settings.database_url, org, "alice"), what="alice's membership")
    created = run(settings, "folder", "create", folder, "--org", org, "--name", "R", "--by", "alice")
    assert created.exit_code == 0, created.output
    upload = ["upload", doc, "--org", org, "--folder", folder, "--owner", "alice"]
    upload += ["--name", "[draft] plan.pdf", "--mime-type", "text/plain", "--blob-uri", "s3://b/plan"]
    assert run(settings, *upload).exit_code == 0


@pytest.mark.integration
def test_folder_ls_prints_a_table_or_json_and_a_refusal_exits_3(
    settings: Settings, worker: None, new_id: IdMaker
) -> None:
    folder, doc = new_id("folder"), new_id("doc")
    add_folder_with_a_document(settings, new_id("org"), folder, doc)

    def listing_with_the_document() -> Result | None:
        result = run(settings, "folder", "ls", folder, "--as", "alice")
        return result if result.exit_code == 0 and doc in result.stdout else None

    listed = wait_for(listing_with_the_document, what="the document in the listing")
    as_json = json.loads(run(settings, "folder", "ls", folder, "--as", "alice", "--json").stdout)
    refused = run(settings, "folder", "ls", folder, "--as", "mallory")

    assert "[draft] plan.pdf" in listed.stdout
    assert "1 document in" in listed.stdout
    assert [document["id"] for document in as_json["documents"]] == [doc]
    assert as_json["next_cursor"] is None
    assert refused.exit_code == 3
    assert "refused (not_a_member)" in one_line_error(refused)


def _as_in_a_terminal() -> None:
    """SIGINT handled as by a command a terminal runs. A test run started in the background by a shell
    without job control ignores SIGINT, and its children inherit that: Python keeps it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_while_waiting_for_an_answer_says_interrupted_and_exits_130(settings: Settings) -> None:
    """As a terminal's Ctrl-C reaches the console script: a query no worker answers, then SIGINT."""
    command = [str(BIN / "docfleet"), "folder", "ls", "f-nobody-answers", "--as", "alice", "--timeout", "60"]
    waiting = subprocess.Popen(
        command,
        env={**os.environ, **environment(settings)},
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,
    )
    wait_for(lambda: (ready_count(settings.amqp_url, "documents-queries") or 0) >= 1, what="the query sent")
    waiting.send_signal(signal.SIGINT)
    _, stderr = waiting.communicate(timeout=30)

    assert waiting.returncode == 130
    assert stderr.strip().splitlines()[-1] == "docfleet: interrupted"


@pytest.mark.integration
def test_a_command_perhaps_taken_tells_the_message_id_to_send_it_again_with(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publish reaches RabbitMQ, the connection drops before the confirm, and the one reconnection
    fails: a copy is queued, and the line must say so, with the id that makes a second send a duplicate."""
    from adapters.rabbitmq.queue_publisher import OutgoingMessage, PublishError, QueuePublisher, Undelivered
    from workers.client import client as client_module

    opened: list[str] = []

    class LostAfterThePublish(QueuePublisher):
        def __init__(self, url: str, **options: Any) -> None:
            opened.append(url)
            if len(opened) > 1:
                raise PublishError("connecting to RabbitMQ: cannot connect to RabbitMQ (test)")
            super().__init__(url, **options)

        def publish(self, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
            assert super().publish(messages) == []  # RabbitMQ took it; its confirm is what the caller loses
            raise PublishError("waiting for publisher confirms: connection lost (test)")

    with monkeypatch.context() as patched:
        patched.setattr(client_module, "QueuePublisher", LostAfterThePublish)
        lost = run(settings, "member", "add", "acme", "alice")

    assert lost.exit_code == 1
    assert lost.stdout == ""
    [queued] = bodies(settings.amqp_url, "documents")
    message_id = queued["message_id"]
    assert one_line_error(lost) == (
        f"docfleet: RabbitMQ at {location(settings.amqp_url)}: connecting to RabbitMQ: cannot connect to "
        "RabbitMQ (test); the command may have been taken all the same: send it again with "
        f"--message-id {message_id} (a copy already taken is then dropped as a duplicate)"
    )

    again = run(settings, "member", "add", "acme", "alice", "--message-id", message_id)

    assert (again.exit_code, again.stdout) == (0, f"{message_id}\n")
    assert [body["message_id"] for body in bodies(settings.amqp_url, "documents")] == [message_id] * 2
