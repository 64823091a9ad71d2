"""What ``docfleet dlq`` asks Valkey about each dead letter, what it does once Valkey fails, and how it
tells a letter left in place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import psycopg
import pytest
import typer
from sqlalchemy import Engine

from adapters.postgres.rejections import MessageHistory, RecordedRejection
from adapters.rabbitmq.dead_letters import DeadLetter
from adapters.valkey.redeliveries import RedeliveryCounter
from tests.cli.support import encoded, envelope
from workers.cli.dead_letters import Inspected, inspect
from workers.cli.dlq_history import HistoryLookup
from workers.cli.dlq_replay import start_count_again, tell_replay


class SilentValkey:
    """A counter whose every call waits out its timeout and fails."""

    def __init__(self) -> None:
        self.asked = 0

    def counted(self, message_id: str) -> int:
        self.asked += 1
        raise TimeoutError("Valkey did not answer")

    def forget(self, message_id: str) -> None:
        self.asked += 1
        raise TimeoutError("Valkey did not answer")


def test_once_valkey_fails_it_is_not_asked_again_for_the_next_letters() -> None:
    silent = SilentValkey()
    history = HistoryLookup(
        MessageHistory(cast(Engine, None)), strict=False, counter=cast(RedeliveryCounter, silent)
    )

    counts = [history.redeliveries(f"m{n}") for n in range(1_000)]

    assert counts == [0] * 1_000
    assert silent.asked == 1


def test_a_reset_is_tried_for_each_replay_even_after_a_lookup_failed_and_says_when_it_failed() -> None:
    """A replayed message left at its count would be dead-lettered again, unrun: worth a try each time."""
    silent = SilentValkey()
    history = HistoryLookup(
        MessageHistory(cast(Engine, None)), strict=False, counter=cast(RedeliveryCounter, silent)
    )
    history.redeliveries("m0")

    resets = [history.forget_redeliveries(f"m{n}") for n in range(3)]

    assert resets == [False, False, False]
    assert silent.asked == 4


def test_a_letter_left_in_place_is_told_without_the_control_characters_its_reason_quotes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Its reason may quote the letter's traceback, which any publisher on the dead-letter queue writes."""
    left = Inspected(
        queue="documents.XQ",
        message_id="m1",
        actor="add_member",
        retries=3,
        died_at=None,
        reason="failed after 3 retries, last: X: \x1b]0;owned\x07",
        replay=None,
        not_replayable="message id already used (failed after 3 retries, last: X: \x1b]0;owned\x07\nforged)",
        envelope=None,
    )

    with pytest.raises(typer.Exit):
        tell_replay([], [left], set(), left_is_incomplete=True)

    told = capsys.readouterr().err
    assert told.startswith(
        "left m1: message id already used (failed after 3 retries, last: X: \\u001b]0;owned"
    )
    assert "\x1b" not in told
    assert "\x07" not in told
    assert told.count("\n") == 1


def test_a_reset_that_failed_is_told(capsys: pytest.CaptureFixture[str]) -> None:
    history = HistoryLookup(
        MessageHistory(cast(Engine, None)), strict=False, counter=cast(RedeliveryCounter, SilentValkey())
    )

    start_count_again(history, "m1")

    assert capsys.readouterr().err == (
        "docfleet: m1: its redelivery count was not reset (Valkey did not answer)\n"
    )


class PrunedInbox:
    """A history whose inbox row for the id was pruned, and whose outbox still holds its rejection."""

    def __init__(self, rejection: RecordedRejection | None) -> None:
        self._rejection = rejection

    def spending(self, message_id: str) -> None:
        return None

    def rejections(self, message_ids: list[str]) -> dict[str, RecordedRejection]:
        return {} if self._rejection is None else {self._rejection.message_id: self._rejection}


def test_an_id_whose_inbox_row_was_pruned_is_used_while_a_rejection_under_it_is_recorded() -> None:
    """A letter refused as message_id_reused dies days after the id's first use: after `inbox prune
    --older-than 8d` it would otherwise be replayed under that spent id."""
    reused = RecordedRejection("m1", "add_member", "message_id_reused", "already used", datetime.now(UTC))
    told = HistoryLookup(cast(MessageHistory, PrunedInbox(reused)), strict=True)("m1")
    never = HistoryLookup(cast(MessageHistory, PrunedInbox(None)), strict=True)("m1")

    assert (told.used, told.rejection) == (True, reused)
    assert never.used is False


class UnreachablePostgres(MessageHistory):
    def __init__(self) -> None:
        super().__init__(cast(Engine, None))

    def spending(self, message_id: str) -> None:
        raise psycopg.OperationalError("connection refused")


def test_only_the_letters_whose_id_could_not_be_asked_about_are_told_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A query's id is never asked about (queries are not deduplicated): it stays replayable, though a
    command's lookup before it failed."""
    history = HistoryLookup(UnreachablePostgres(), strict=False)
    command = envelope("add_member", {"org_id": "acme", "user_id": "bob"}, retries=20)
    query = envelope("list_folder", {"folder_id": "f1", "requested_by": "bob"}, "documents-queries")
    letters = [
        DeadLetter(queue, encoded(body), queue.removesuffix(".XQ"), "rejected", None)
        for queue, body in (("documents.XQ", command), ("documents-queries.XQ", query))
    ]

    told = [inspect(letter, history).replay_word() for letter in letters]

    assert told == ["unknown", "yes"]
    assert "recorded rejections are not shown" in capsys.readouterr().err
