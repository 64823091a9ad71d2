"""Each actor's published JSON Schema and the workers agree on its kwargs (docs/contract.md §2, §3): for
kwargs as a producer writes them, in JSON, the workers take a message exactly when its schema does, but
where it breaks a rule §2 lists as beyond the schemas (then the schema takes it and the workers do not).
Patterns are read as JSON Schema reads them, in ECMA-262 terms: ``$`` is the end of the text, not also the
place before a final newline, as Python's ``re`` (and so Python's ``jsonschema``) has it."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Iterator
from operator import mul
from typing import Any, NamedTuple
from urllib.parse import unquote

import jsonschema
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from workers.contract import InvalidMessage, parse, queue_of
from workers.middleware.envelope import EnvelopeEncoder, UnreadableMessage
from workers.schemas import SCHEMAS_DIR


class JsonText(str):
    """A value written as this JSON text, as it stands (a number as ``1e2``)."""


class Argument(NamedTuple):
    typical: st.SearchStrategy[Any]  # valid, mostly
    edgy: st.SearchStrategy[Any]  # at and around the rule's edges, on either side


def spliced(texts: st.SearchStrategy[str], inserts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A text of ``texts`` with one of ``inserts`` put in before, within or after it."""
    parts = st.tuples(texts, inserts, st.integers(0, 12))
    return parts.map(lambda part: part[0][: part[2]] + part[1] + part[0][part[2] :])


def runs(chars: str | list[str], lengths: list[int]) -> st.SearchStrategy[str]:
    """One of ``chars`` (or texts) repeated one of ``lengths`` times."""
    return st.builds(mul, st.sampled_from(chars), st.sampled_from(lengths))


ID_CHARS = string.ascii_letters + string.digits + "_.:-"
NEAR_ID_CHARS = "/*# +@~,;!\t\n\x00\x7f\u00e9\u0130\u212a\u0661\uff46\U0001f600"  # Kelvin sign, Arabic 1
TYPICAL_ID = st.text(ID_CHARS, min_size=1, max_size=10)
# Edge values are listed valid one first: Hypothesis draws a list's first element most, and shrinks to it.
EDGY_ID = runs(ID_CHARS, [128, 129, 0, 1, 127]) | spliced(
    TYPICAL_ID, st.sampled_from(f"_.:-09AZaz{NEAR_ID_CHARS}")
)
BLANK = " \u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\t\x85"
INVISIBLE = "\u2800\U000e0001\u00ad\u034f\u061c\u115f\u17b4\u180e\u200b\u200d\u200e\u2060\u2065\u206f\u3164"
INVISIBLE += "\ufe0f\ufeff\uffa0\ufff0\ufff8\U0001bca0\U0001d17a\U000e0fff"
UNSAFE = "\x00\x1f\x7f\x9f\u202a\u202e\u2066\u2069\ud800\udfff"  # lone surrogates: JSON's \u escapes
AROUND = "\u180a\u2027\u2030\u2801\ufff9\ufffd\u0301\ue000\U0001bca4\U0001d17b\U000e1000\U0010ffff"
TEXT_EDGES = st.sampled_from(INVISIBLE + BLANK + UNSAFE + AROUND)
NORMAL_FORMS = ["\u00e9", "e\u0301", "\u212b", "\u00c5", "\U0001f469\u200d\U0001f4bb.pdf", "\ufb01"]


def texts(longest: int) -> Argument:
    typical = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=16)
    return Argument(
        typical,
        runs("n\U0001f4c4\u0301\u3000", [longest, longest + 1, longest - 1])
        | TEXT_EDGES
        | st.text(TEXT_EDGES, min_size=1, max_size=3)
        | spliced(typical, st.text(TEXT_EDGES, min_size=1, max_size=2))
        | st.sampled_from(NORMAL_FORMS)
        | st.text(max_size=12),
    )


TAG, NAME = texts(64), texts(255)
COUNTED_TAGS = st.sampled_from([50, 51, 49]).map(lambda count: [f"t-{i}" for i in range(count)])
REPEATED_TAGS = (COUNTED_TAGS | st.lists(TAG.typical, min_size=1, max_size=3)).map(lambda t: t + t[:1])
ONE_EDGY_TAG = st.builds(
    lambda valid, edgy: [*valid, edgy], st.lists(TAG.typical, max_size=2, unique=True), TAG.edgy
)
ODD_TAGS = st.sampled_from([["\u00e9", "e\u0301"], ["a", "A"], [1], [None], "tag", [["a"]]])
LONG_TAG = runs("t\U0001f4c4", [64, 65, 63]).map(lambda tag: [tag])
EDGY_TAGS: st.SearchStrategy[Any] = COUNTED_TAGS | LONG_TAG | ONE_EDGY_TAG | REPEATED_TAGS | ODD_TAGS
TAGS = Argument(st.lists(TAG.typical, max_size=4, unique=True), EDGY_TAGS)
ALNUM = string.ascii_letters + string.digits
MIME_PART = st.builds(str.__add__, st.sampled_from(ALNUM), st.text(ALNUM + "!#$&^_.+-", max_size=8))
TYPICAL_MIME = st.builds("{}/{}".format, MIME_PART, MIME_PART)
EDGY_MIME = st.builds("{}/{}".format, runs("a", [127, 128, 1]), runs("b", [127, 128, 1]))
EDGY_MIME |= spliced(TYPICAL_MIME, st.sampled_from('/;= "()<>@,:\\[]?{}%*\n\t\u00e9'))
EDGY_MIME |= st.sampled_from(
    ["application/pdf; charset=utf-8", "a/", "/b", "+a/b", "a/-b", "a/b/c", "\uff41/b"]
)
MIME = Argument(
    TYPICAL_MIME | st.sampled_from(["application/pdf", "image/svg+xml", "Application/PDF"]), EDGY_MIME
)
PCHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
ENCODED = ["%2e", "%2E", "%2e%2e", "%2F", "%2f", "%00", "%5C", "%5c", "%E2%80%AE", "%e2%81%a6", "%C2%85"]
ENCODED += ["%7F", "%1f", "%20", "%C3%A9", "%C0%AE", "%25", "%zz", "%2", "%", "\\", " ", "\u00e9", ".", ".."]
SEGMENT = st.lists(st.sampled_from(ENCODED) | st.text(PCHARS, max_size=4), max_size=3).map("".join)
HOST = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)
VALID_SCHEME = st.sampled_from(["s3", "gs", "az", "https"])
TYPICAL_BLOB = st.builds("{}://{}/{}".format, VALID_SCHEME, HOST, st.text(PCHARS, min_size=1, max_size=20))
VALID_PATH = st.lists(st.text(PCHARS, min_size=1, max_size=8), min_size=1, max_size=3).map("/".join)
BLOB_PARTS = [  # each part, valid and at or around its edge, in the order they are written
    (
        st.sampled_from(["https", "s3", "gs", "az"]),
        st.sampled_from(["http", "S3", "HTTPS", "file", "data", ""]),
    ),
    (st.just("://"), st.sampled_from(["://user@", "://user:pw@", ":/", ":"])),
    (
        HOST,
        st.sampled_from(
            ["a" * 253, "a" * 254, "a.example.com", "-b", "b..c", "b_1", "[::1]", "", "b\u00fcck"]
        ),
    ),
    (st.just(""), st.sampled_from([":65535", ":65536", ":1", ":0", ":443", ":99999", ":08443", ":"])),
    (
        VALID_PATH.map("/{}".format),
        st.lists(st.sampled_from(["", "a", *ENCODED]) | SEGMENT, max_size=4).map(lambda p: "/" + "/".join(p)),
    ),
    (st.sampled_from(["", "/", "//"]), st.sampled_from(["?x=1", "?", "#f", "#", "?X-Amz-Signature=ab#f"])),
]
ONE_PART_CHANGED = st.integers(0, len(BLOB_PARTS) - 1).flatmap(
    lambda changed: st.tuples(*(parts[i == changed] for i, parts in enumerate(BLOB_PARTS))).map("".join)
)
LONG_BLOBS = st.builds(lambda u, n: u + "a" * (n - len(u)), TYPICAL_BLOB, st.sampled_from([2048, 2049, 2047]))
EDGY_BLOB = st.sampled_from([ONE_PART_CHANGED] * 3 + [LONG_BLOBS]).flatmap(lambda strategy: strategy)
ROLES = ["viewer", "editor", "owner"]
ROLE_LOOKALIKES = [*ROLES, "Viewer", "OWNER", "admin", "", "owner\n", " viewer", "\u0435ditor", "viewer\x00"]
ROLE = Argument(st.sampled_from(ROLES), st.sampled_from(ROLE_LOOKALIKES))
NUMBER_TEXTS = ["1000.0", "1001.0", "1.0", "1e2", "1E3", "1000.5", "0.5e1", "1.5", "-0.0", "0.0", "1e-400"]
NUMBER_TEXTS += ["1e400", "100.00000000000001", "9007199254740992.0", "9007199254740993.0", "1e16", "true"]
BIG_INTEGERS = [2**53 - 1, 2**53, 2**53 + 1, -(2**53), 2**63]
EDGY_LIMIT: st.SearchStrategy[Any] = st.sampled_from([1000, 1001, 1, 0, -1, 2, 999, *BIG_INTEGERS])
EDGY_LIMIT |= st.sampled_from(NUMBER_TEXTS).map(JsonText)
LONE_SURROGATES = st.sampled_from(["\ud800", "a\udfff"])  # which JSON carries, as \u escapes
EDGY_CURSOR = st.text(max_size=8) | runs("c\U0001f4c4", [1024, 1025, 1023]) | LONE_SURROGATES
ID, BLOB = Argument(TYPICAL_ID, EDGY_ID), Argument(TYPICAL_BLOB, EDGY_BLOB)
LIMIT, PARENT = Argument(st.integers(1, 1000), EDGY_LIMIT), Argument(st.none() | TYPICAL_ID, EDGY_ID)
CURSOR = Argument(st.none() | st.text(string.ascii_letters, max_size=20), EDGY_CURSOR)
OPTIONAL = {"parent_id", "tags", "limit", "cursor"}
ACTORS: dict[str, dict[str, Argument]] = {
    "add_member": {"org_id": ID, "user_id": ID},
    "create_folder": {"folder_id": ID, "org_id": ID, "name": NAME, "parent_id": PARENT, "created_by": ID},
    "upload_document": {"doc_id": ID, "org_id": ID, "folder_id": ID, "owner_id": ID, "name": NAME}
    | {"mime_type": MIME, "blob_uri": BLOB, "tags": TAGS},
    "share_document": {"doc_id": ID, "shared_by": ID, "shared_with": ID, "role": ROLE},
    "revoke_access": {"doc_id": ID, "revoked_by": ID, "user_id": ID},
    "list_folder": {"folder_id": ID, "requested_by": ID, "limit": LIMIT, "cursor": CURSOR},
}
OTHER_JSON: st.SearchStrategy[Any] = st.sampled_from([None, 0, 1, -1, 1.0, True, [], {}, "", 2**53])
STRAY_ARGUMENTS = st.sampled_from(["extra", "Org_id", "role", "tags", "org_id ", "__proto__"])
ONCE_IN_FOUR, ONCE_IN_EIGHT = st.sampled_from([False] * 3 + [True]), st.sampled_from([False] * 7 + [True])
USUALLY = st.sampled_from([True] * 3 + [False])
CHANGES = st.sampled_from(["kept"] + ["edge"] * 6 + ["other", "left out"])


@st.composite
def kwargs_as_sent(draw: st.DrawFn, actor: str, focus: str) -> str:
    """The kwargs' JSON text: typical values but ``focus``'s, mostly an edge case, else another JSON value
    or null, or left out; once in a while another argument changed too, or one the actor does not take."""
    arguments = ACTORS[actor]
    kwargs = {k: draw(arg.typical) for k, arg in arguments.items() if k not in OPTIONAL or draw(USUALLY)}
    also = [draw(st.sampled_from(list(arguments)))] if draw(ONCE_IN_FOUR) else []
    for name in dict.fromkeys([focus, *also]):
        change = draw(CHANGES)
        if change == "left out":
            kwargs.pop(name, None)
        elif change != "kept":
            kwargs[name] = draw(arguments[name].edgy if change == "edge" else OTHER_JSON)
    if draw(ONCE_IN_EIGHT):
        kwargs[draw(STRAY_ARGUMENTS)] = draw(OTHER_JSON)
    if actor == "create_folder" and draw(ONCE_IN_EIGHT):
        kwargs["parent_id"] = kwargs.get("folder_id")
    written = (
        f"{json.dumps(k)}: {v if isinstance(v, JsonText) else json.dumps(v)}" for k, v in kwargs.items()
    )
    return "{" + ", ".join(written) + "}"


def matches(pattern: str, text: str) -> bool:
    return re.search(pattern.removesuffix("$") + r"\Z", text) is not None


def ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if isinstance(instance, str) and not matches(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


SchemaValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": ecma_pattern})
SCHEMAS = {
    actor: SchemaValidator(json.loads((SCHEMAS_DIR / "commands" / f"{actor}.json").read_text()))
    for actor in ACTORS
}
TEXT_PATTERN: str = SCHEMAS["create_folder"].schema["properties"]["name"]["pattern"]
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
ASTRAL_INVISIBLE = re.compile("[\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
UNSAFE_IN_A_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\\]")


def beyond_the_schemas(actor: str, kwargs: dict[str, Any]) -> str | None:
    """The rule, of those contract §2 says the schemas cannot express, that kwargs valid by their schema
    break, if any."""
    named = ([kwargs["name"]] if "name" in kwargs else []) + kwargs.get("tags", [])
    if any(LONE_SURROGATE.search(text) for text in [*named, kwargs.get("cursor") or ""]):
        return "a lone surrogate"
    if any(
        ASTRAL_INVISIBLE.search(t) and not matches(TEXT_PATTERN, ASTRAL_INVISIBLE.sub("", t)) for t in named
    ):
        return "blank but for invisible characters beyond the BMP"
    if actor == "create_folder" and kwargs.get("parent_id") == kwargs["folder_id"]:
        return "its own parent"
    if "blob_uri" in kwargs:
        path = unquote(kwargs["blob_uri"].split("://", 1)[1].partition("/")[2])
        if any(segment in (".", "..") for segment in path.split("/")):
            return "a '.' or '..' path segment"
        if UNSAFE_IN_A_PATH.search(path):
            return "a control character, bidirectional control or backslash in the path"
        if not any(path.split("/")):
            return "no object named, once decoded"
    return None


def read_by_the_workers(actor: str, kwargs_json: str) -> list[str]:
    """The problems the workers find in a message carrying these kwargs, read from its whole body."""
    body = (
        f'{{"queue_name": "{queue_of(actor)}", "actor_name": "{actor}", "args": [], "kwargs": {kwargs_json},'
        ' "options": {}, "message_id": "m-1", "message_timestamp": 1714566600000}'
    )
    try:
        fields = EnvelopeEncoder().decode(body.encode())
        parse(actor, fields["args"], fields["kwargs"])
    except (UnreadableMessage, InvalidMessage) as error:
        return list(error.problems)
    return []


FOCI = [pytest.param(actor, name, id=f"{actor}.{name}") for actor, args in ACTORS.items() for name in args]


@pytest.mark.parametrize(("actor", "focus"), FOCI)
def test_the_workers_take_kwargs_exactly_when_the_published_schema_does(actor: str, focus: str) -> None:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=50 if ACTORS[actor][focus] is ID else 300, deadline=None)  # ids: one simple rule
    @given(kwargs_as_sent(actor, focus))
    def agree(kwargs_json: str) -> None:
        kwargs = json.loads(kwargs_json)  # as a producer's JSON reader has them
        by_schema = SCHEMAS[actor].is_valid(kwargs)
        gap = beyond_the_schemas(actor, kwargs) if by_schema else None
        problems = read_by_the_workers(actor, kwargs_json)
        schema_says = f"takes it, but {gap}" if gap else ("takes it" if by_schema else "refuses it")
        assert (problems == []) == (by_schema and gap is None), f"schema {schema_says}; workers: {problems}"
        outcomes["refused" if problems else "taken"] += 1
        event(("refused" if problems else "taken") + (f" ({gap})" if gap else ""))

    agree()
    assert min(outcomes["taken"], outcomes["refused"]) >= outcomes.total() // 20, f"one-sided: {outcomes}"
