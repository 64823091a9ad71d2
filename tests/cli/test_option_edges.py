"""Options at their edges: refused as a usage error (exit 2, one line) before anything is sent, and
output that stays usable whatever the terminal says."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from workers.cli.app import app
from workers.cli.folders import show_page
from workers.cli.output import PIPE_WIDTH, add_row, console, table
from workers.contract_events import ListFolderResult


def invoke(*args: str) -> Result:
    # Services nobody listens on: an option refused before the command runs never reaches them.
    unreachable = {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "AMQP_URL": "amqp://guest:guest@127.0.0.1:9/%2F",
        "VALKEY_URL": "redis://127.0.0.1:9/0",
    }
    return CliRunner().invoke(app, list(args), env=unreachable)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("folder", "ls", "f1", "--as", "alice", "--timeout", "inf"), "a number of seconds, not inf"),
        (("folder", "ls", "f1", "--as", "alice", "--timeout", "nan"), "Invalid value for '--timeout'"),
        (("inbox", "prune", "--older-than", "9" * 4301 + "d"), "Invalid value for '--older-than': at most"),
        (("outbox", "prune", "--older-than", "9" * 4301 + "d"), "Invalid value for '--older-than': at most"),
        (
            ("outbox", "prune", "--older-than", "40000d"),
            "Invalid value for '--older-than': at most 36500 days",
        ),
        (("outbox", "prune", "--older-than", "7x"), "Invalid value for '--older-than': expected a number"),
        (("events", "tail", "--pattern", "a" * 256), "at most 255 bytes"),
        (("events", "tail", "--pattern", "doc.\udcff"), "not UTF-8 text"),  # a byte 0xff on the command line
        (
            ("supervise", "--backoff-initial", "20", "--backoff-max", "10", "--", "true"),
            "Invalid value for '--backoff-initial': 20 s is longer than --backoff-max (10 s)",
        ),
    ],
)
def test_an_option_out_of_bounds_is_a_usage_error(args: tuple[str, ...], said: str) -> None:
    result = invoke(*args)

    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert said in result.output


def test_the_next_page_command_is_printed_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    cursor = "MjAyNi0xMi0wNVQxMDowMzozMy4zOTUyMjUrMDA6MDB8YmQtMw" * 3
    show_page(ListFolderResult(documents=[], next_cursor=cursor), "f-reports", "alice")

    lines = capsys.readouterr().out.splitlines()
    assert f"next page: docfleet folder ls f-reports --as alice --cursor {cursor}" in lines


def test_the_next_page_command_keeps_a_page_size_and_a_timeout_other_than_the_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = ListFolderResult(documents=[], next_cursor="Y3Vyc29y")
    show_page(page, "f-reports", "alice", limit=20, timeout=30.0)

    lines = capsys.readouterr().out.splitlines()
    assert (
        "next page: docfleet folder ls f-reports --as alice --limit 20 --timeout 30 --cursor Y3Vyc29y"
        in lines
    )


@pytest.mark.parametrize("columns", ["0", "3", "wide"])
def test_a_width_no_table_fits_in_is_taken_for_unset(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)

    assert console().width == PIPE_WIDTH


def test_off_a_terminal_without_columns_a_long_row_stays_on_its_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    reason = "invalid: blob_uri: must be an absolute URI s3://, gs://, az:// or https://bucket-or-host/path"
    grid = table("id", "actor", "reason", whole="id")
    add_row(grid, ["3f9c2a1e-0000-4000-8000-1234567890ab", "upload_document", reason])

    console().print(grid)

    [row] = [line for line in capsys.readouterr().out.splitlines() if "upload_document" in line]
    assert "3f9c2a1e-0000-4000-8000-1234567890ab" in row
    assert reason in row


def test_a_usage_error_of_several_lines_is_told_on_one(capsys: pytest.CaptureFixture[str]) -> None:
    from workers.cli.app import main

    with pytest.raises(SystemExit) as exited:
        main(["share", "d1", "--by", "alice", "--with", "bob"])  # no --role: click lists the choices

    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("docfleet: error: Missing option '--role'")
    assert "viewer" in line


def test_a_value_outside_the_choices_is_told_with_the_choices_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workers.cli.app import main

    with pytest.raises(SystemExit) as exited:
        main(["share", "d1", "--by", "alice", "--with", "bob", "--role", "admin"])

    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "docfleet: error: Invalid value for '--role': 'admin' is not one of 'viewer', 'editor', 'owner'."
        " See 'docfleet share --help'.\n"
    )


def test_a_missing_option_points_to_the_help_that_lists_them_all(capsys: pytest.CaptureFixture[str]) -> None:
    from workers.cli.app import main

    with pytest.raises(SystemExit) as exited:
        main(["upload", "doc-9", "--org", "acme"])

    assert exited.value.code == 2
    assert (
        capsys.readouterr().err
        == "docfleet: error: Missing option '--folder'. See 'docfleet upload --help'.\n"
    )


@pytest.mark.parametrize(
    "group", [(), ("member",), ("folder",), ("dlq",), ("events",), ("outbox",), ("inbox",)]
)
def test_every_command_listed_in_a_help_is_told_whole_in_80_columns(
    group: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")

    result = invoke(*group, "--help")

    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:", 1)[1].splitlines()
    assert [line for line in listed if line.strip()], "a list of commands"
    assert [line for line in listed if line.endswith("...")] == []


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (("member", "add"), "ORG USER"),
        (("upload",), "DOC"),
        (("folder", "create"), "FOLDER"),
        (("folder", "ls"), "FOLDER"),
        (("bulk",), "FILE"),
    ],
)
def test_arguments_are_named_in_capitals_as_the_descriptions_name_them(
    command: tuple[str, ...], usage: str
) -> None:
    first_line = invoke(*command, "--help").output.splitlines()[0]

    assert first_line.translate(str.maketrans("", "", "{}")).endswith(usage), first_line  # typer's braces


def test_the_help_hint_follows_a_sentence_of_its_own_after_docfleet_s_own_refusals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workers.cli.app import main

    with pytest.raises(SystemExit):
        main(["events", "tail", "--pattern", "documents.#"])

    told = capsys.readouterr().err
    assert told.endswith("or # for all. See 'docfleet events tail --help'.\n"), told


def test_the_version_is_printed_without_reaching_any_service() -> None:
    from importlib.metadata import version

    result = invoke("--version")

    assert result.exit_code == 0, result.output
    assert result.output == f"docfleet {version('docfleet')}\n"


def test_the_count_under_a_page_says_document_for_one(capsys: pytest.CaptureFixture[str]) -> None:
    show_page(ListFolderResult(documents=[], next_cursor=None), "f-reports", "alice")
    none = capsys.readouterr().out.splitlines()
    page = ListFolderResult.model_validate(
        {"documents": [_document("d1")], "next_cursor": None}  # one document
    )
    show_page(page, "f-reports", "alice")
    one = capsys.readouterr().out.splitlines()

    assert "0 documents in f-reports visible to alice" in none
    assert "1 document in f-reports visible to alice" in one


def _document(doc_id: str) -> dict[str, object]:
    return {
        "id": doc_id,
        "org_id": "acme",
        "folder_id": "f-reports",
        "owner_id": "alice",
        "uploaded_by": "alice",
        "name": "a.pdf",
        "mime_type": "application/pdf",
        "version": 1,
        "blob_uri": "s3://bucket/a.pdf",
        "tags": [],
        "created_at": "2026-05-01T12:00:00Z",
        "updated_at": "2026-05-01T12:00:00Z",
    }


def test_times_in_json_output_are_rfc_3339(capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime

    from workers.cli.output import print_json

    print_json({"died_at": datetime(2026, 12, 6, 5, 29, 52, tzinfo=UTC)})

    assert '"died_at": "2026-12-06T05:29:52+00:00"' in capsys.readouterr().out


def _printed(ids: list[str]) -> str:
    grid = table("message id", "actor", "retries", "dead since", "reason", whole="message id")
    for message_id in ids:
        add_row(
            grid, [message_id, "add_member", 0, "2026-12-06 23:39:46", "invalid: " + "a long reason " * 8]
        )
    out = console()
    with out.capture() as captured:
        out.print(grid)
    return captured.get()


def test_a_table_keeps_the_id_an_operator_copies_whole_in_a_narrow_console(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through a pipe at 80 columns, a message id folded in two was two broken ids to paste."""
    monkeypatch.setenv("COLUMNS", "80")
    message_id = "5e5b3c4e-6166-47da-a527-476e5895d3d7"

    printed = _printed([message_id])

    assert any(message_id in line for line in printed.splitlines())
    assert "reason" in printed


def test_an_id_too_long_to_keep_whole_folds_rather_than_loses_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    longest = "m" + "0123456789" * 12 + "abcdefg"  # 128 characters, the contract's longest id

    printed = _printed(["5e5b3c4e-6166-47da-a527-476e5895d3d7", longest])

    first_cells = "".join(line.split("│")[0].strip() for line in printed.splitlines()[2:])
    assert longest in first_cells
    assert "reason" in printed
