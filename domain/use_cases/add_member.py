from __future__ import annotations

from domain.commands import AddMember
from domain.events import MemberAdded
from domain.ports import UnitOfWork


def add_member(cmd: AddMember, uow: UnitOfWork) -> None:
    """Adds a user to an organization; adding an existing member changes nothing."""
    with uow:
        if not uow.members.contains(cmd.org_id, cmd.user_id):
            uow.members.add(cmd.org_id, cmd.user_id)
            uow.record(MemberAdded(org_id=cmd.org_id, user_id=cmd.user_id))
        uow.commit()
