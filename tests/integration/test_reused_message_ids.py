"""The inbox keeps each id's command fingerprint, on both of Postgres's paths (a unit of work of its own,
and group commit's batch), and a different command sent under a spent id is rejected, not dropped."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from adapters.postgres.rejections import MessageHistory
from domain.commands import NO_COMMAND, AddMember, Command, CreateFolder, UploadDocument, fingerprint
from domain.errors import MessageIdReused
from domain.use_cases.dispatch import Outcome, rejection
from tests.conftest import IdMaker
from workers.bootstrap import Application
from workers.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def app(database_url: str, key_prefix: str) -> Iterator[Application]:
    settings = dataclasses.replace(Settings.from_env(), database_url=database_url, cache_prefix=key_prefix)
    application = Application.from_settings(settings, threads=4)  # group commit on: uploads go in batches
    yield application
    application.close()


def _upload(new_id: IdMaker, org: str, folder: str, owner: str) -> UploadDocument:
    return UploadDocument(
        doc_id=new_id("doc"),
        org_id=org,
        folder_id=folder,
        owner_id=owner,
        name="a.pdf",
        mime_type="application/pdf",
        blob_uri="s3://b/a.pdf",
    )


def _kept_fingerprint(engine: Engine, message_id: str) -> str | None:
    with engine.connect() as connection:
        query = text("SELECT fingerprint FROM inbox WHERE message_id = :id")
        kept: str | None = connection.scalar(query, {"id": message_id})
        return kept


def _run(app: Application, command: Command, message_id: str) -> Outcome:
    return app.execute(command, message_id=message_id, actor="any")


@pytest.mark.parametrize("path", ["alone", "batch"])
def test_a_different_command_under_a_spent_id_is_rejected(
    app: Application, engine: Engine, new_id: IdMaker, path: str
) -> None:
    org, folder, owner = new_id("org"), new_id("folder"), new_id("user")
    assert _run(app, AddMember(org_id=org, user_id=owner), new_id("m")) is Outcome.APPLIED
    assert _run(app, CreateFolder(folder_id=folder, org_id=org, name="f", created_by=owner), new_id("m"))
    first: Command = AddMember(org_id=org, user_id=new_id("user"))
    other: Command = AddMember(org_id=org, user_id=new_id("user"))
    if path == "batch":
        first, other = _upload(new_id, org, folder, owner), _upload(new_id, org, folder, owner)
    message_id = new_id("m")

    assert _run(app, first, message_id) is Outcome.APPLIED
    assert _kept_fingerprint(engine, message_id) == fingerprint(first)
    assert _run(app, first, message_id) is Outcome.DUPLICATE
    with pytest.raises(MessageIdReused):
        app.handle(other, message_id=message_id, actor="reusing_actor")

    recorded = MessageHistory(engine).rejections([message_id])[message_id]
    assert (recorded.reason, recorded.actor) == ("message_id_reused", "reusing_actor")
    assert _kept_fingerprint(engine, message_id) == fingerprint(first), "the id stays the first command's"
    assert app.acked_outcome(message_id, first), "past the redelivery limit, a copy of the first is acked"
    assert not app.acked_outcome(message_id, other), "and the other command, which never ran, is kept"
    assert not app.acked_outcome(message_id, None), "as is a message that is no command"


def _rejections_in_outbox(engine: Engine, message_id: str) -> list[str]:
    with engine.connect() as connection:
        query = text(
            "SELECT event_id::text FROM outbox WHERE type = 'CommandRejected'"
            " AND payload ->> 'message_id' = :id ORDER BY seq"
        )
        return list(connection.scalars(query, {"id": message_id}))


def test_a_command_under_a_spent_id_delivered_again_is_rejected_once(
    app: Application, engine: Engine, new_id: IdMaker
) -> None:
    """The outbox's key on event_id holds the derived id once: a second delivery records nothing."""
    org, message_id = new_id("org"), new_id("m")
    assert _run(app, AddMember(org_id=org, user_id=new_id("user")), message_id) is Outcome.APPLIED
    reusing = AddMember(org_id=org, user_id=new_id("user"))
    with pytest.raises(MessageIdReused) as first_delivery:
        app.handle(reusing, message_id=message_id, actor="add_member")
    with pytest.raises(MessageIdReused) as second_delivery:
        app.handle(reusing, message_id=message_id, actor="add_member")

    assert (first_delivery.value.rejection, second_delivery.value.rejection) == ("recorded", "duplicate")
    [event_id] = _rejections_in_outbox(engine, message_id)
    with pytest.raises(MessageIdReused):
        app.handle(AddMember(org_id=org, user_id=new_id("user")), message_id=message_id, actor="add_member")
    assert _rejections_in_outbox(engine, message_id)[0] == event_id
    assert len(_rejections_in_outbox(engine, message_id)) == 2, "a third command has a rejection of its own"


def test_past_the_redelivery_limit_a_command_under_a_spent_id_is_kept_before_it_is_rejected(
    app: Application, new_id: IdMaker
) -> None:
    """Its turns cut short by workers that died one after the other, it never ran: no rejection says so
    yet."""
    message_id, org = new_id("m"), new_id("org")
    first, other = (
        AddMember(org_id=org, user_id=new_id("user")),
        AddMember(org_id=org, user_id=new_id("user")),
    )
    assert _run(app, first, message_id) is Outcome.APPLIED

    assert app.acked_outcome(message_id, first)
    assert not app.acked_outcome(message_id, other)


@pytest.mark.parametrize("path", ["alone", "batch"])
def test_a_command_sent_under_an_id_an_invalid_message_spent_is_rejected_not_dropped(
    app: Application, engine: Engine, new_id: IdMaker, path: str
) -> None:
    """The invalid message fixed and sent again under its id: no command spent the id, so the fixed one
    is another command under it, dead-lettered for ``dlq replay --new-id``, not acked as a copy."""
    org, folder, owner, message_id = new_id("org"), new_id("folder"), new_id("user"), new_id("m")
    fixed: Command = AddMember(org_id=org, user_id=owner)
    if path == "batch":
        assert _run(app, fixed, new_id("m")) is Outcome.APPLIED
        assert _run(app, CreateFolder(folder_id=folder, org_id=org, name="f", created_by=owner), new_id("m"))
        fixed = _upload(new_id, org, folder, owner)
    assert (
        app.reject(rejection(None, message_id, "add_member", "invalid", "org_id: missing")) is Outcome.REFUSED
    )
    assert _kept_fingerprint(engine, message_id) == NO_COMMAND

    with pytest.raises(MessageIdReused):
        app.handle(fixed, message_id=message_id, actor="fixed_actor")

    history = MessageHistory(engine)
    assert history.rejections([message_id])[message_id].reason == "invalid", "the id's own rejection"
    with engine.begin() as connection:  # as `docfleet outbox prune` forgets the rejection
        connection.execute(
            text("DELETE FROM outbox WHERE payload ->> 'message_id' = :id"), {"id": message_id}
        )
    assert not app.acked_outcome(message_id, fixed), "past the redelivery limit, kept, never acked"
    assert not app.acked_outcome(message_id, None), "as is a copy of the invalid message"


def test_an_id_spent_before_fingerprints_were_kept_is_compared_with_nothing(
    app: Application, engine: Engine, new_id: IdMaker
) -> None:
    message_id = new_id("m")
    assert (
        app.reject(rejection(None, message_id, "add_member", "invalid", "org_id: missing")) is Outcome.REFUSED
    )
    with engine.begin() as connection:  # as migration 0010 left the rows before it
        connection.execute(
            text("UPDATE inbox SET fingerprint = NULL WHERE message_id = :id"), {"id": message_id}
        )

    assert _run(app, AddMember(org_id=new_id("org"), user_id=new_id("user")), message_id) is Outcome.DUPLICATE


def test_a_rejection_left_from_before_an_id_was_forgotten_and_used_again_does_not_count(
    app: Application, engine: Engine, new_id: IdMaker
) -> None:
    """``inbox prune`` forgets ids sooner than the outbox forgets rejections: a command rejected as not
    found, its id forgotten, then sent again and applied, had its outcome: a copy of it is acked."""
    org, user, message_id = new_id("org"), new_id("user"), new_id("m")
    command = AddMember(org_id=org, user_id=user)
    assert (
        app.reject(rejection(command, message_id, "add_member", "not_found", "x"), command) is Outcome.REFUSED
    )
    assert not app.acked_outcome(message_id, command), "its rejection dead-lettered it"
    with engine.begin() as connection:  # as `docfleet inbox prune` forgets it
        connection.execute(text("DELETE FROM inbox WHERE message_id = :id"), {"id": message_id})

    assert _run(app, command, message_id) is Outcome.APPLIED
    assert app.acked_outcome(message_id, command)
    assert not app.acked_outcome(message_id, None), "a copy that is no command is dead-lettered"


def test_an_ids_own_rejection_is_kept_over_a_later_one_refusing_a_command_sent_under_it_again(
    app: Application, engine: Engine, new_id: IdMaker
) -> None:
    """`dlq ls` tells a dead letter by the rejection that spent its id, not by a later reuse of it."""
    org, user, message_id = new_id("org"), new_id("user"), new_id("m")
    command = AddMember(org_id=org, user_id=user)
    assert (
        app.reject(rejection(command, message_id, "add_member", "not_found", "x"), command) is Outcome.REFUSED
    )
    history = MessageHistory(engine)
    assert history.rejections([message_id])[message_id].reason == "not_found"
    with pytest.raises(MessageIdReused):
        app.handle(AddMember(org_id=org, user_id=new_id("user")), message_id=message_id, actor="other")

    recorded = history.rejections([message_id])[message_id]
    assert (recorded.reason, recorded.actor) == ("not_found", "add_member")
