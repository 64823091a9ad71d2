"""The fleet's Application tells whether a message id already had its outcome, from the inbox."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from domain.commands import AddMember, CreateFolder
from domain.use_cases.dispatch import Outcome
from workers.bootstrap import Application
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def application(database_url: str, key_prefix: str) -> Iterator[Application]:
    settings = dataclasses.replace(Settings.from_env(), database_url=database_url, cache_prefix=key_prefix)
    app = Application.from_settings(settings, threads=2)
    yield app
    app.close()


def test_an_applied_and_a_refused_command_had_their_outcome_and_an_unsent_id_did_not(
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

    assert application.had_outcome(applied)
    assert application.had_outcome(refused)
    assert not application.had_outcome(unsent)
