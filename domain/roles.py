"""Roles, the capabilities they carry, and the one rule for granting them."""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    SHARE = "share"


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def capabilities(self) -> frozenset[Capability]:
        return _CAPABILITIES[self]

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.VIEWER: frozenset({Capability.VIEW}),
    Role.EDITOR: frozenset({Capability.VIEW, Capability.EDIT}),
    Role.OWNER: frozenset({Capability.VIEW, Capability.EDIT, Capability.SHARE}),
}


def capabilities_of(role: Role | None) -> frozenset[Capability]:
    return frozenset() if role is None else role.capabilities


def may_grant(granter: Role | None, granted: Role) -> bool:
    """Only a holder of ``share`` grants, and never a role with a capability the granter lacks."""
    held = capabilities_of(granter)
    return Capability.SHARE in held and granted.capabilities <= held
