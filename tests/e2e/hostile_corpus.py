"""The hostile corpus: each message named, with the outcome docs/contract.md gives it."""

from __future__ import annotations

import pickle

from tests.e2e.hostile_messages import (
    COMMANDS,
    DOC,
    MALLORY,
    ORG,
    QUERIES,
    Hostile,
    encoded,
    envelope,
    folder,
    invalid,
    listing,
    member,
    misrouted,
    refused_command,
    refused_query,
    share,
    unreadable,
    upload,
)

PADDING = "x" * (300 * 1024)
MANY_TAGS = [f"t{n}" for n in range(100_000)]
SQL = "acme'; DROP TABLE organizations;--"

ENVELOPES = [
    unreadable("not_json", b"add_member(org_id='acme', user_id='eve')", "body: is not JSON"),
    unreadable("not_utf8", b"\xff\xfe{\x00}", "body: is not UTF-8 text"),
    unreadable("pickle_body", pickle.dumps(envelope("add_member", member())), "body: is not UTF-8 text"),
    unreadable("json_array", b'["add_member", {"org_id": "acme"}]', "body: must be a JSON object"),
    unreadable("json_not_an_envelope", encoded({"type": "AddMember", **member()}), "queue_name: is required"),
    unreadable("nan_literal", encoded(envelope("add_member", member())).replace(b"[]", b"NaN"), "NaN is not"),
    unreadable(
        "duplicate_key",
        encoded(envelope("add_member", member())).replace(b'"args": []', b'"args": [], "args": []'),
        "a key appears twice",
    ),
    unreadable(
        "message_id_with_pattern_characters",
        encoded(envelope("add_member", member(), message_id="m-*-#")),
        "message_id: must be 1 to 128 characters",
    ),
    unreadable(
        "actor_name_injection",
        encoded(envelope("add_member", member(), actor_name="add_member;drop")),
        "actor_name: must be an actor's name: 1 to 64 characters",
        named=True,
    ),
    unreadable(
        "forbidden_option",
        encoded(envelope("add_member", member(), options={"throws": "Exception"})),
        "options.throws: is not a field",
        rejected="invalid",
        named=True,
    ),
    unreadable(
        "queue_name_of_another_queue",
        encoded(envelope("add_member", member(), queue_name=QUERIES)),
        "queue_name: is 'documents-queries' but the message came from 'documents'",
        rejected="invalid",
        named=True,
    ),
    unreadable(
        "kwargs_not_an_object",
        encoded(envelope("add_member", [ORG, "bob"])),
        "kwargs: input should be a valid dictionary",
        rejected="invalid",
        named=True,
    ),
]

ARGUMENTS = [
    invalid("unknown_actor", "delete_everything", {"org_id": ORG}, "actor: there is no actor named"),
    invalid("positional_args", "add_member", {}, "args: positional arguments are not accepted", args=[ORG]),
    invalid("missing_kwarg", "add_member", {"org_id": ORG}, "user_id: is required"),
    invalid("extra_kwarg", "add_member", member(role="owner"), "role: is not a field of this actor"),
    invalid(
        "wrongly_typed_kwarg", "add_member", member(user_id=7), "user_id: input should be a valid string"
    ),
    invalid("null_kwarg", "add_member", member(org_id=None), "org_id: input should be a valid string"),
    invalid(
        "tags_as_a_string", "upload_document", upload(tags="finance"), "tags: input should be a valid list"
    ),
    invalid("message_over_256_kib", "add_member", member(padding=PADDING), "over the limit of 262144 bytes"),
    invalid(
        "tag_list_of_100000", "upload_document", upload(tags=MANY_TAGS), "over the limit of 262144 bytes"
    ),
]

STRINGS = [
    invalid("empty_id", "add_member", member(org_id=""), "org_id: must be 1 to 128 characters"),
    invalid("empty_name", "create_folder", folder(name=""), "name: string should have at least 1 character"),
    invalid("blank_name", "create_folder", folder(name=" \u3000 "), "name: must not be blank"),
    invalid("nul_in_name", "create_folder", folder(name="a\x00b"), "control character (U+0000)"),
    invalid("escape_in_name", "upload_document", upload(name="\x1b[2Jx.pdf"), "control character (U+001B)"),
    invalid(
        "rtl_override_in_name", "upload_document", upload(name="a\u202efdp.exe"), "bidirectional control"
    ),
    invalid(
        "lone_surrogate_in_name", "upload_document", upload(name="\ud800.pdf"), "name: must be valid Unicode"
    ),
    invalid("lone_surrogate_in_id", "add_member", member(user_id="\udc00"), "user_id: must be valid Unicode"),
    invalid("sql_in_id", "add_member", member(org_id=SQL), "org_id: must be 1 to 128 characters"),
    invalid("traversal_in_blob_uri", "upload_document", upload(blob_uri="s3://b/a/../../etc/passwd"), "'..'"),
    invalid("encoded_traversal_in_blob_uri", "upload_document", upload(blob_uri="s3://b/%2e%2e/key"), "'..'"),
    invalid("javascript_blob_uri", "upload_document", upload(blob_uri="javascript:alert(1)"), "absolute URI"),
    invalid("file_blob_uri", "upload_document", upload(blob_uri="file:///etc/passwd"), "absolute URI"),
    invalid("star_in_id", "create_folder", folder(folder_id="*"), "folder_id: must be 1 to 128 characters"),
    invalid("hash_in_id", "share_document", share(doc_id=f"{DOC}.#"), "doc_id: must be 1 to 128 characters"),
    invalid("amqp_pattern_id", "share_document", share(shared_with="*.#"), "shared_with: must be 1 to 128"),
    invalid("space_in_id", "add_member", member(user_id="alice bob"), "user_id: must be 1 to 128 characters"),
    invalid("glob_in_folder_id", "list_folder", listing(folder_id="f*[a]?"), "folder_id: must be 1 to 128"),
    invalid("role_outside_the_enum", "share_document", share(role="admin"), "role: input should be 'viewer'"),
    invalid("role_in_upper_case", "share_document", share(role="Owner"), "role: input should be 'viewer'"),
]

QUERY_ARGUMENTS = [
    invalid(
        "negative_limit", "list_folder", listing(limit=-1), "limit: input should be greater than or equal"
    ),
    invalid("huge_limit", "list_folder", listing(limit=10**30), "limit: input should be less than or equal"),
    invalid(
        "limit_as_a_string", "list_folder", listing(limit="10"), "limit: input should be a valid integer"
    ),
    invalid(
        "cursor_over_1024", "list_folder", listing(cursor="c" * 1025), "cursor: string should have at most"
    ),
    refused_query("forged_cursor", listing(cursor="MjAyNHxkb2M"), "invalid"),
    refused_query("non_member_lists", listing(requested_by=MALLORY), "not_a_member"),
]

REFUSALS = [
    refused_command(
        "non_member_creates_a_folder", "create_folder", folder(created_by=MALLORY), "not_a_member"
    ),
    refused_command("non_member_uploads", "upload_document", upload(owner_id=MALLORY), "not_a_member"),
]

CORPUS: list[Hostile] = [*ENVELOPES, *ARGUMENTS, *STRINGS, *QUERY_ARGUMENTS, *REFUSALS]


MISROUTED = [
    misrouted("command_on_the_query_queue", "add_member", member(), QUERIES, "add_member"),
    misrouted("query_on_the_command_queue", "list_folder", listing(), COMMANDS, "list_folder"),
]
"""Published on the queue their queue_name names, which is not their actor's (docs/contract.md §1, §2)."""
