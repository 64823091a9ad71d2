"""The client checks arguments as the workers will read them once sent as JSON."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from workers.client import InvalidArguments, validate

UPLOAD = {
    "doc_id": "doc-1",
    "org_id": "acme",
    "folder_id": "f-1",
    "owner_id": "alice",
    "name": "a.pdf",
    "mime_type": "application/pdf",
    "blob_uri": "s3://bucket/a.pdf",
}


def test_any_mapping_of_arguments_is_checked_as_the_json_object_it_is_sent_as() -> None:
    validate("add_member", MappingProxyType({"org_id": "acme", "user_id": "alice"}))


def test_a_python_value_json_has_no_word_for_is_named_by_its_type() -> None:
    with pytest.raises(InvalidArguments) as refused:
        validate("upload_document", {**UPLOAD, "tags": ("q3",)})
    assert refused.value.problems == ("tags: input should be a valid list, not a tuple",)
