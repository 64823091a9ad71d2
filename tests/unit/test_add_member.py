from __future__ import annotations

from domain.commands import AddMember
from domain.events import MemberAdded
from domain.use_cases.add_member import add_member
from tests.unit.fakes import ORG, OTHER_ORG, FakeDatabase


def test_adding_a_member_makes_the_user_a_member_and_emits_member_added() -> None:
    db = FakeDatabase()
    uow = db.uow()
    add_member(AddMember(org_id=ORG, user_id="alice"), uow)
    assert db.members[ORG] == {"alice"}
    assert uow.committed
    [event] = db.events_of(MemberAdded)
    assert (event.org_id, event.user_id) == (ORG, "alice")


def test_adding_an_existing_member_again_changes_nothing_and_emits_member_added_once() -> None:
    db = FakeDatabase()
    add_member(AddMember(org_id=ORG, user_id="alice"), db.uow())
    add_member(AddMember(org_id=ORG, user_id="alice"), db.uow())
    assert db.members[ORG] == {"alice"}
    assert len(db.events_of(MemberAdded)) == 1


def test_a_user_can_belong_to_several_organizations() -> None:
    db = FakeDatabase()
    add_member(AddMember(org_id=ORG, user_id="alice"), db.uow())
    add_member(AddMember(org_id=OTHER_ORG, user_id="alice"), db.uow())
    assert "alice" in db.members[ORG]
    assert "alice" in db.members[OTHER_ORG]
    assert len(db.events_of(MemberAdded)) == 2
