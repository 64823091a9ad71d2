"""Properties of the permission rules, over every role and over random sequences of shares and revokes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import roles
from domain.commands import RevokeAccess, ShareDocument
from domain.errors import Refused
from domain.events import AccessRevoked, DocumentShared, Event
from domain.roles import Capability, Role, capabilities_of, may_grant
from domain.use_cases.revoke_access import revoke_access
from domain.use_cases.share_document import share_document
from tests.unit.fakes import FakeDatabase

MEMBERS = ("alice", "bob", "carol", "dave")
USERS = (*MEMBERS, "mallory")  # mallory belongs to no organization of the document
roles_or_none = st.one_of(st.none(), st.sampled_from(Role))
actors = st.one_of(st.just("alice"), st.sampled_from(USERS))  # the first owner acts often, so changes happen

shares = st.builds(
    ShareDocument,
    doc_id=st.just("d1"),
    shared_by=actors,
    shared_with=st.sampled_from(USERS),
    role=st.sampled_from(Role),
)
revokes = st.builds(RevokeAccess, doc_id=st.just("d1"), revoked_by=actors, user_id=st.sampled_from(USERS))


def test_the_roles_carry_exactly_their_capabilities() -> None:
    assert Role.VIEWER.capabilities == {Capability.VIEW}
    assert Role.EDITOR.capabilities == {Capability.VIEW, Capability.EDIT}
    assert Role.OWNER.capabilities == {Capability.VIEW, Capability.EDIT, Capability.SHARE}
    assert capabilities_of(None) == frozenset()


@given(granter=roles_or_none, granted=st.sampled_from(Role))
def test_may_grant_never_confers_a_capability_the_granter_lacks(granter: Role | None, granted: Role) -> None:
    held = capabilities_of(granter)
    if may_grant(granter, granted):
        assert Capability.SHARE in held
        assert granted.capabilities <= held


@contextmanager
def _role_table(table: Mapping[Role, frozenset[Capability]]) -> Iterator[None]:
    """Swaps the capability table, so the granting rule is checked for tables other than today's."""
    saved = dict(roles._CAPABILITIES)
    roles._CAPABILITIES.update(table)
    try:
        yield
    finally:
        roles._CAPABILITIES.update(saved)


@given(
    table=st.fixed_dictionaries({role: st.frozensets(st.sampled_from(Capability)) for role in Role}),
    granter=roles_or_none,
    granted=st.sampled_from(Role),
)
def test_may_grant_never_confers_a_capability_the_granter_lacks_whatever_the_role_table(
    table: dict[Role, frozenset[Capability]], granter: Role | None, granted: Role
) -> None:
    with _role_table(table):
        if may_grant(granter, granted):
            held = capabilities_of(granter)
            assert Capability.SHARE in held
            assert granted.capabilities <= held


@given(granter=roles_or_none, granted=st.sampled_from(Role))
def test_a_holder_of_share_may_grant_every_role_within_its_capabilities(
    granter: Role | None, granted: Role
) -> None:
    held = capabilities_of(granter)
    if Capability.SHARE in held and granted.capabilities <= held:
        assert may_grant(granter, granted)


@settings(max_examples=300)
@given(commands=st.lists(st.one_of(shares, revokes), max_size=25))
def test_random_shares_and_revokes_keep_the_permission_invariants(
    commands: list[ShareDocument | RevokeAccess],
) -> None:
    db = FakeDatabase().with_document("d1", owner="alice", members=MEMBERS)
    db.with_member("mallory", org="elsewhere")

    for command in commands:
        before = db.roles_on("d1")
        already = len(db.events)
        try:
            if isinstance(command, ShareDocument):
                share_document(command, db.uow())
            else:
                revoke_access(command, db.uow())
        except Refused:
            refused = True
        else:
            refused = False
        after = db.roles_on("d1")
        events = db.events[already:]

        assert db.owners_of("d1"), "the document lost its last owner"
        assert "mallory" not in after, "a non-member was given a role"
        if refused:
            assert (after, events) == (before, [])
            continue
        changed = {user for user in before.keys() | after.keys() if before.get(user) != after.get(user)}
        if isinstance(command, ShareDocument):
            _check_share(command, before, after, changed, events)
        else:
            _check_revoke(command, before, after, changed, events)


def _check_share(
    command: ShareDocument,
    before: dict[str, Role],
    after: dict[str, Role],
    changed: set[str],
    events: list[Event],
) -> None:
    assert changed <= {command.shared_with}
    if not changed:
        assert events == [], "an event without a change"
        return
    assert may_grant(before.get(command.shared_by), after[command.shared_with]), "a role nobody could grant"
    [event] = events
    assert isinstance(event, DocumentShared)
    assert (event.shared_by, event.shared_with, event.role) == (
        command.shared_by,
        command.shared_with,
        after[command.shared_with].value,
    )


def _check_revoke(
    command: RevokeAccess,
    before: dict[str, Role],
    after: dict[str, Role],
    changed: set[str],
    events: list[Event],
) -> None:
    assert changed <= {command.user_id}
    if not changed:
        assert events == [], "an event without a change"
        return
    assert Capability.SHARE in capabilities_of(before.get(command.revoked_by))
    assert command.user_id in before
    assert command.user_id not in after
    [event] = events
    assert isinstance(event, AccessRevoked)
    assert (event.revoked_by, event.user_id) == (command.revoked_by, command.user_id)
