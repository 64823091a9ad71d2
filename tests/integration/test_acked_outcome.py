"""The fleet's Application tells whether a message id had an outcome that acks its message: applied, or
refused by the rules; not a rejection that dead-letters it (invalid, not found after its retries)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from domain.commands import AddMember, CreateFolder
from domain.use_cases.dispatch import Outcome, rejection
from workers.bootstrap import Application
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def application(database_url: str, key_prefix: str) -> Iterator[Application]:
    settings = dataclasses.replace(Settings.from_env(), database_url=database_url, cache_prefix=key_prefix)
    app = Application.from_settings(settings, threads=2)
    yield app
    app.close()


def test_an_applied_and_a_refused_command_were_acked_and_an_unsent_id_was_not(
    application: Application,
) -> None:
    org, user, stranger = (f"{kind}-{uuid.uuid4().hex[:8]}" for kind in ("org", "u", "s"))
    applied, refused, unsent = (str(uuid.uuid4()) for _ in range(3))
    member = AddMember(org_id=org, user_id=user)
    by_a_stranger = CreateFolder(
        folder_id=f"f-{uuid.uuid4().hex[:8]}", org_id=org, name="n", created_by=stranger
    )

    assert application.execute(member, message_id=applied, actor="add_member") is Outcome.APPLIED
    assert application.execute(by_a_stranger, message_id=refused, actor="create_folder") is Outcome.REFUSED

    assert application.acked_outcome(applied, member)
    assert application.acked_outcome(refused, by_a_stranger)
    assert not application.acked_outcome(unsent, member)


@pytest.mark.parametrize("reason", ["invalid", "not_found"])
def test_a_rejection_that_dead_letters_its_message_is_no_acked_outcome(
    application: Application, reason: str
) -> None:
    message_id = str(uuid.uuid4())

    assert (
        application.reject(rejection(None, message_id, "upload_document", reason, "why")) is Outcome.REFUSED
    )

    assert not application.acked_outcome(message_id, None), (
        "its inbox row is there, but its message was dead-lettered"
    )
