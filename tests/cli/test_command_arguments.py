"""Each subcommand that sends a message puts every option in the argument the contract names for it:
an argument the CLI leaves out, or one it fills from the wrong option, fails here rather than in a
producer's hands. Nothing is sent: the check stops at the validation every subcommand runs first."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from typer.testing import CliRunner

from workers.cli.app import app
from workers.cli.commands import Role
from workers.contract import ACTOR_KWARGS, ShareDocumentKwargs

# Every option is given a value of its own, so that a swap of two of them shows.
FOLDER = ["folder", "create", "f-new", "--org", "o-org", "--name", "Reports", "--by", "u-by"]
FOLDER += ["--parent", "f-p"]
UPLOAD = ["upload", "d-doc", "--org", "o-org", "--folder", "f-folder", "--owner", "u-owner"]
UPLOAD += ["--name", "a.pdf", "--mime-type", "application/pdf", "--blob-uri", "s3://b/a.pdf"]
UPLOAD += ["--tag", "t1", "--tag", "t2"]
SENT_BY_SUBCOMMAND: dict[str, tuple[list[str], dict[str, Any]]] = {
    "add_member": (["member", "add", "o-org", "u-user"], {"org_id": "o-org", "user_id": "u-user"}),
    "create_folder": (
        FOLDER,
        {"folder_id": "f-new", "org_id": "o-org", "name": "Reports", "parent_id": "f-p"}
        | {"created_by": "u-by"},
    ),
    "upload_document": (
        UPLOAD,
        {"doc_id": "d-doc", "org_id": "o-org", "folder_id": "f-folder", "owner_id": "u-owner"}
        | {"name": "a.pdf", "mime_type": "application/pdf", "blob_uri": "s3://b/a.pdf", "tags": ["t1", "t2"]},
    ),
    "share_document": (
        ["share", "d-doc", "--by", "u-by", "--with", "u-with", "--role", "editor"],
        {"doc_id": "d-doc", "shared_by": "u-by", "shared_with": "u-with", "role": "editor"},
    ),
    "revoke_access": (
        ["revoke", "d-doc", "--by", "u-by", "--user", "u-user"],
        {"doc_id": "d-doc", "revoked_by": "u-by", "user_id": "u-user"},
    ),
    "list_folder": (
        ["folder", "ls", "f-folder", "--as", "u-as", "--limit", "7", "--cursor", "c-cursor"],
        {"folder_id": "f-folder", "requested_by": "u-as", "limit": 7, "cursor": "c-cursor"},
    ),
}


class _Validated(Exception):
    """Raised in place of the validation, so that the subcommand stops before it connects anywhere."""


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(actor: str, kwargs: dict[str, Any], message_id: str | None = None) -> None:
        seen.append((actor, dict(kwargs)))
        raise _Validated

    monkeypatch.setattr("workers.client.validate", record)
    return seen


def test_every_actor_has_a_subcommand_here() -> None:
    assert set(SENT_BY_SUBCOMMAND) == set(ACTOR_KWARGS)


@pytest.mark.parametrize("actor", sorted(SENT_BY_SUBCOMMAND))
def test_a_subcommand_sends_each_option_as_its_argument(
    actor: str, validated: list[tuple[str, dict[str, Any]]]
) -> None:
    argv, expected = SENT_BY_SUBCOMMAND[actor]

    result = CliRunner().invoke(app, argv)

    assert isinstance(result.exception, _Validated), result.output
    assert validated == [(actor, expected)]
    assert set(expected) == set(ACTOR_KWARGS[actor].model_fields), "an argument of the contract has no option"


def test_the_roles_offered_are_the_roles_the_contract_takes() -> None:
    contract_roles = get_args(ShareDocumentKwargs.model_fields["role"].annotation)
    assert sorted(role.value for role in Role) == sorted(contract_roles)
