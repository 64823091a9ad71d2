"""A command's fingerprint tells a copy of a message from a different command sent under the same id."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields, replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from domain.commands import AddMember, ShareDocument, UploadDocument, fingerprint
from domain.roles import Role

UPLOAD = UploadDocument(
    doc_id="d1",
    org_id="acme",
    folder_id="f1",
    owner_id="alice",
    name="Q3 report.pdf",
    mime_type="application/pdf",
    blob_uri="s3://blobs/d1/v1",
)


def test_an_equal_command_has_the_same_fingerprint() -> None:
    assert fingerprint(UPLOAD) == fingerprint(replace(UPLOAD))
    assert fingerprint(replace(UPLOAD, tags=("a",))) == fingerprint(replace(UPLOAD, tags=("a",)))


def test_a_field_left_at_its_default_is_not_part_of_it() -> None:
    """So a version that adds an optional field still matches a copy sent before it."""
    assert fingerprint(UPLOAD) == fingerprint(replace(UPLOAD, tags=()))
    assert fingerprint(UPLOAD) != fingerprint(replace(UPLOAD, tags=("",)))


def test_every_field_counts() -> None:
    for spec in fields(UploadDocument):
        changed: Any = ("x",) if spec.name == "tags" else "x"
        assert fingerprint(replace(UPLOAD, **{spec.name: changed})) != fingerprint(UPLOAD), spec.name


def test_the_kind_of_command_counts() -> None:
    share = ShareDocument(doc_id="d1", shared_by="alice", shared_with="bob", role=Role.VIEWER)
    assert fingerprint(share) != fingerprint(replace(share, role=Role.EDITOR))
    assert fingerprint(AddMember(org_id="acme", user_id="bob")) != fingerprint(
        AddMember(org_id="bob", user_id="acme")
    )


@given(st.text(max_size=20), st.text(max_size=20))
def test_values_cannot_run_into_each_other(first: str, second: str) -> None:
    """Two fields' values are told apart however their characters fall (a separator inside one)."""
    moved = AddMember(org_id=first + "x", user_id=second)
    assert fingerprint(AddMember(org_id=first, user_id="x" + second)) != fingerprint(moved)


def test_it_is_the_same_in_every_process() -> None:
    """Stored in the inbox and compared by other processes: nothing in it may vary with string hashing."""
    program = (
        "from domain.commands import ShareDocument, fingerprint; from domain.roles import Role;"
        " print(fingerprint(ShareDocument("
        "doc_id='d1', shared_by='alice', shared_with='bob', role=Role.VIEWER)))"
    )
    share = ShareDocument(doc_id="d1", shared_by="alice", shared_with="bob", role=Role.VIEWER)
    for seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        printed = subprocess.run(
            [sys.executable, "-c", program], env=environment, capture_output=True, text=True, check=True
        )
        assert printed.stdout.strip() == fingerprint(share)
