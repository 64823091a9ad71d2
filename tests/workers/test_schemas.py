"""The JSON Schemas on disk are current, and every event as the codec writes it matches its schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from dramatiq.results.result import wrap_exception
from pydantic import ValidationError

import domain.events
from adapters.event_codec import routing_key, to_wire
from domain.events import (
    AccessRevoked,
    CommandRejected,
    DocumentShared,
    DocumentUploaded,
    Event,
    FolderCreated,
    MemberAdded,
    ShareDenied,
    stamped,
)
from tests.workers.test_contract import GOOD
from workers.contract import InvalidMessage
from workers.contract_events import EVENTS
from workers.middleware.answers import QueryExpired
from workers.schemas import SCHEMAS_DIR, generated, main, stale

SAMPLES: list[Event] = [
    MemberAdded(org_id="acme", user_id="alice"),
    FolderCreated(org_id="acme", folder_id="f1", parent_id=None, name="Reports", created_by="alice"),
    FolderCreated(org_id="acme", folder_id="f2", parent_id="f1", name="2024", created_by="alice"),
    DocumentUploaded(
        org_id="acme",
        doc_id="d1",
        owner_id="alice",
        uploaded_by="bob",
        folder_id="f1",
        version=2,
        name="Q3.pdf",
        mime_type="application/pdf",
    ),
    DocumentShared(
        org_id="acme", doc_id="d1", shared_by="alice", shared_with="bob", role="editor", previous_role=None
    ),
    DocumentShared(
        org_id="acme",
        doc_id="d1",
        shared_by="alice",
        shared_with="carol",
        role="viewer",
        previous_role="owner",
    ),
    AccessRevoked(org_id="acme", doc_id="d1", revoked_by="alice", user_id="bob", role="viewer"),
    ShareDenied(
        org_id="acme",
        doc_id="d1",
        shared_by="bob",
        shared_with="eve",
        role="owner",
        reason="escalation",
        message_id="m0",
    ),
    CommandRejected(
        org_id="acme", doc_id="d1", message_id="m1", actor="revoke_access", reason="last_owner", detail="x"
    ),
    CommandRejected(
        org_id=None, message_id="m2", actor="nope", reason="invalid", detail="actor: no such actor"
    ),
]


def test_the_schema_files_are_current() -> None:
    assert stale() == [], "run `python -m workers.schemas` and commit schemas/"


def test_the_check_mode_reports_a_stale_or_leftover_file(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "commands" / "add_member.json").write_text("{}")
    (tmp_path / "events" / "Gone.json").write_text("{}")

    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert stale(tmp_path) == ["commands/add_member.json", "events/Gone.json"]


def test_every_domain_event_type_has_a_schema() -> None:
    types = {cls.__name__ for cls in vars(domain.events).values() if _is_event_type(cls)}
    assert types == set(EVENTS)
    assert {type(event).__name__ for event in SAMPLES} == types


def _is_event_type(value: object) -> bool:
    return (
        isinstance(value, type)
        and issubclass(value, Event)
        and not value.__name__.startswith("_")
        and value is not Event
    )


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_the_wire_form_of_each_event_matches_its_model(event: Event) -> None:
    model, key = EVENTS[event.type]
    wire = json.loads(json.dumps(to_wire(stamped(event, "m-recorded-it"))))

    model.model_validate(wire, strict=True)
    assert set(wire) == set(model.model_fields)
    assert routing_key(event) == key.replace("<role>", str(getattr(event, "role", ""))).replace(
        "<actor_name>", str(getattr(event, "actor", ""))
    )


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_the_wire_form_of_each_event_validates_against_its_schema_file(event: Event) -> None:
    schema: dict[str, Any] = json.loads((SCHEMAS_DIR / "events" / f"{event.type}.json").read_text())

    jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(to_wire(stamped(event, "m-1")))))


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_every_event_names_the_message_that_recorded_it_and_one_from_before_still_validates(
    event: Event,
) -> None:
    """An event a refusal names its message itself keeps that id; one recorded before events named their
    message (an outbox row from an older version) has none, and is still valid."""
    model, _ = EVENTS[event.type]
    unstamped = json.loads(json.dumps(to_wire(event)))

    assert to_wire(stamped(event, "m-recorded-it"))["message_id"] == (event.message_id or "m-recorded-it")
    model.model_validate(unstamped, strict=True)
    assert ("message_id" in unstamped) == (event.message_id is not None)
    with pytest.raises(ValidationError):  # absent when unknown, never null
        model.model_validate({**unstamped, "message_id": None}, strict=True)


@pytest.mark.parametrize(
    ("event_type", "added"), [("DocumentShared", "previous_role"), ("AccessRevoked", "role")]
)
def test_a_share_or_revoke_recorded_before_it_named_the_roles_still_validates(
    event_type: str, added: str
) -> None:
    """Outbox rows an older release wrote lack the field; a null role removed is no role at all."""
    event = next(sample for sample in SAMPLES if sample.type == event_type)
    schema: dict[str, Any] = json.loads((SCHEMAS_DIR / "events" / f"{event_type}.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    older = {name: value for name, value in to_wire(event).items() if name != added}

    validator.validate(older)
    assert validator.is_valid({**older, added: "viewer"})
    assert validator.is_valid({**older, added: None}) == (added == "previous_role"), "null: a new grant"
    assert not validator.is_valid({**older, added: "admin"})


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_an_event_with_a_field_added_later_still_validates_against_its_schema_file(event: Event) -> None:
    """Contract §6: optional fields may be added within schema_version 1, and consumers ignore them."""
    schema: dict[str, Any] = json.loads((SCHEMAS_DIR / "events" / f"{event.type}.json").read_text())

    jsonschema.Draft202012Validator(schema).validate({**to_wire(event), "added_later": "x"})


def test_each_schema_names_its_dialect_and_title() -> None:
    for path, text in generated().items():
        schema = json.loads(text)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path
        assert schema["title"], path


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [found for value in node.values() for found in _patterns(value)]
    if isinstance(node, list):
        return [found for value in node for found in _patterns(value)]
    return []


def test_every_pattern_is_written_in_the_syntax_every_validators_regex_engine_reads() -> None:
    """ECMA-262's \\u escape is not Go's (its regexp refuses it), nor \\x{...} ECMA-262's: the characters
    themselves, which the JSON escapes, read the same in every engine; so do ASCII files."""
    patterns = [pattern for text in generated().values() for pattern in _patterns(json.loads(text))]

    assert any("\u200b" in pattern for pattern in patterns), "the invisible characters are there"
    escaped = [pattern for pattern in patterns if any(escape in pattern for escape in ("\\u", "\\U", "\\x"))]
    assert escaped == []
    assert all(text.isascii() for text in generated().values())


@pytest.mark.parametrize(("actor", "kwargs"), [(actor, kwargs) for actor, kwargs, _ in GOOD])
def test_every_valid_message_also_validates_against_the_published_schema(
    actor: str, kwargs: dict[str, Any]
) -> None:
    schema = json.loads((SCHEMAS_DIR / "commands" / f"{actor}.json").read_text())

    jsonschema.Draft202012Validator(schema).validate(kwargs)


@pytest.mark.parametrize(
    ("actor", "kwargs"),
    [
        ("add_member", {"org_id": "acme"}),
        ("add_member", {"org_id": "acme", "user_id": 1}),
        ("add_member", {"org_id": "a*b", "user_id": "bob"}),
        ("add_member", {"org_id": "acme", "user_id": "bob", "extra": 1}),
        ("share_document", {"doc_id": "d1", "shared_by": "a", "shared_with": "b", "role": "admin"}),
        ("list_folder", {"folder_id": "f1", "requested_by": "a", "limit": 0}),
    ],
)
def test_the_published_schema_rejects_what_the_contract_rejects(actor: str, kwargs: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS_DIR / "commands" / f"{actor}.json").read_text())

    assert not jsonschema.Draft202012Validator(schema).is_valid(kwargs)


def test_the_envelope_schema_accepts_a_message_as_python_producers_send_it() -> None:
    import dramatiq

    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents",
        actor_name="add_member",
        args=(),
        kwargs={"org_id": "a", "user_id": "b"},
        options={},
    )
    schema = json.loads((SCHEMAS_DIR / "envelope.json").read_text())

    jsonschema.Draft202012Validator(schema).validate(json.loads(message.encode()))


def test_the_sent_envelope_schema_is_the_envelope_s_without_retries_bookkeeping() -> None:
    """What a producer validates against: a message only docfleet's own retries send is refused."""
    sent, every = (
        jsonschema.Draft202012Validator(json.loads((SCHEMAS_DIR / name).read_text()))
        for name in ("envelope_sent.json", "envelope.json")
    )
    message = {
        "queue_name": "documents-queries",
        "actor_name": "list_folder",
        "args": [],
        "kwargs": {"folder_id": "f1", "requested_by": "alice"},
        "options": {},
        "message_id": "9f3c1c52-2d0e-4a57-9a45-0c1b7b0d2f11",
        "message_timestamp": 1714566600000,
    }
    retried = {**message, "queue_name": "documents-queries.DQ", "options": {"retries": 1, "eta": 1}}

    assert sent.is_valid(message)
    assert every.is_valid(message)
    assert every.is_valid(retried)
    assert not sent.is_valid(retried)
    assert not sent.is_valid({**message, "options": {"eta": 1714566700000}})
    assert not sent.is_valid({**message, "queue_name": "documents.DQ"})
    assert not sent.is_valid({**message, "unknown": 1})


def test_a_list_folder_result_has_an_error_only_when_refused_never_a_null_one() -> None:
    schema = json.loads((SCHEMAS_DIR / "results" / "list_folder.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    page: dict[str, Any] = {"documents": [], "next_cursor": None}

    assert validator.is_valid(page)
    assert validator.is_valid({**page, "error": {"reason": "not_a_member", "detail": "user 'mallory' ..."}})
    assert not validator.is_valid({**page, "error": None})


_UPLOAD = {
    "doc_id": "d1",
    "org_id": "acme",
    "folder_id": "f1",
    "owner_id": "alice",
    "name": "Rapport d'été 2024.pdf",
    "mime_type": "application/pdf",
    "blob_uri": "s3://bucket/d1.pdf",
    "tags": ["q3", "finance"],
}


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"blob_uri": "https://files.example.com:8443/d1.pdf"}, True),
        ({"tags": ["q3", "q3"]}, False),
        ({"name": "tab\tin name"}, False),
        ({"name": "   "}, False),
        ({"name": "\u3000\u00a0"}, False),  # blank to Python's str.isspace, as the pattern spells it out
        ({"name": "\ufeff\u200b\u00ad"}, False),  # invisible alone: blank
        ({"name": "\u2800"}, False),  # the Braille blank alone
        ({"name": "\u2800\u2801"}, True),
        ({"name": "\ufeffx"}, True),  # ECMA-262's \s counts U+FEFF, which the pattern must not lean on
        ({"name": "\U0001f469\u200d\U0001f4bb.pdf"}, True),  # a joiner inside an emoji sequence
        ({"name": "evil\u202egnp.exe"}, False),
        ({"tags": ["\u2066x"]}, False),
        ({"blob_uri": "s3://bucket:1/d1.pdf"}, False),
        ({"blob_uri": "https://files.example.com:99999/d1.pdf"}, False),
        ({"blob_uri": "https://files.example.com:0/d1.pdf"}, False),
        ({"blob_uri": "s3://bucket/"}, False),  # no object named
        ({"blob_uri": "s3://bucket//"}, False),
        ({"blob_uri": "s3://bucket//d1.pdf"}, True),
        ({"blob_uri": "s3://bucket/d1/"}, True),
    ],
)
def test_the_published_schema_and_the_workers_agree_on_names_tags_and_blob_uris(
    change: dict[str, Any], valid: bool
) -> None:
    from workers.contract import InvalidMessage, parse

    kwargs = {**_UPLOAD, **change}
    schema = json.loads((SCHEMAS_DIR / "commands" / "upload_document.json").read_text())
    try:
        parse("upload_document", [], kwargs)
        accepted = True
    except InvalidMessage:
        accepted = False

    assert accepted is valid
    assert jsonschema.Draft202012Validator(schema).is_valid(kwargs) is valid


def _result_schema(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS_DIR / "results" / name).read_text()))


@pytest.mark.parametrize(
    "raised",
    [
        InvalidMessage("list_folder", ["limit: input should be greater than 0"]),
        QueryExpired(
            "list_folder sent 75.2 s ago, longer than its answer is kept (60 s, RESULT_TTL_MS): not run"
        ),
        OSError("Valkey is down"),  # a fault, after its retries
    ],
    ids=lambda raised: type(raised).__name__,
)
def test_a_query_not_answered_leaves_what_the_failure_schema_describes(raised: Exception) -> None:
    """As Dramatiq stores it in the result entry, where a caller in any language reads it."""
    stored = json.loads(json.dumps(wrap_exception(raised)))  # type: ignore[no-untyped-call]

    _result_schema("list_folder_failure.json").validate(stored)
    assert not _result_schema("list_folder.json").is_valid(stored)


def test_an_answer_is_told_from_a_failure_by_the_schemas() -> None:
    answer: dict[str, Any] = {
        "documents": [],
        "next_cursor": None,
        "error": {"reason": "not_found", "detail": "no folder f-1"},
    }

    _result_schema("list_folder.json").validate(answer)
    assert not _result_schema("list_folder_failure.json").is_valid(answer)
