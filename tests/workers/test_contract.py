"""The message contract, table-driven: good messages become exactly their command; bad ones list problems."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.commands import AddMember, CreateFolder, ListFolderDocuments, ShareDocument, UploadDocument
from domain.roles import Role
from workers.contract import InvalidMessage, parse, parse_command, parse_query
from workers.contract_fields import is_blank
from workers.contract_problems import MAX_PROBLEMS

UPLOAD: dict[str, Any] = {
    "doc_id": "d1",
    "org_id": "acme",
    "folder_id": "f1",
    "owner_id": "alice",
    "name": "Q3 report.pdf",
    "mime_type": "application/pdf",
    "blob_uri": "s3://blobs/d1/v1",
}
SHARE = {"doc_id": "d1", "shared_by": "alice", "shared_with": "bob", "role": "viewer"}
FOLDER = {"folder_id": "f1", "org_id": "acme", "name": "Reports", "created_by": "alice"}
SQL = "Robert'); DROP TABLE documents;--"


def upload(**changes: Any) -> dict[str, Any]:
    return {**UPLOAD, **changes}


GOOD: list[tuple[str, dict[str, Any], object]] = [
    ("add_member", {"org_id": "acme", "user_id": "alice"}, AddMember(org_id="acme", user_id="alice")),
    (
        "add_member",
        {"org_id": "a.b:c-d_e", "user_id": "x" * 128},
        AddMember(org_id="a.b:c-d_e", user_id="x" * 128),
    ),
    ("create_folder", FOLDER, CreateFolder(**FOLDER)),
    ("create_folder", {**FOLDER, "parent_id": None}, CreateFolder(**FOLDER)),
    ("create_folder", {**FOLDER, "parent_id": "root"}, CreateFolder(**FOLDER, parent_id="root")),
    ("create_folder", {**FOLDER, "name": SQL}, CreateFolder(**{**FOLDER, "name": SQL})),
    ("upload_document", UPLOAD, UploadDocument(**UPLOAD)),
    ("upload_document", upload(name="דוח רבעוני.pdf"), UploadDocument(**upload(name="דוח רבעוני.pdf"))),
    ("upload_document", upload(name="报告 📄.pdf"), UploadDocument(**upload(name="报告 📄.pdf"))),
    ("upload_document", upload(name="n" * 255), UploadDocument(**upload(name="n" * 255))),
    ("upload_document", upload(name="' OR 1=1 --"), UploadDocument(**upload(name="' OR 1=1 --"))),
    (
        "upload_document",
        upload(name="<script>x</script>"),
        UploadDocument(**upload(name="<script>x</script>")),
    ),
    ("upload_document", upload(tags=[]), UploadDocument(**UPLOAD)),
    (
        "upload_document",
        upload(tags=[f"{n:02}" + "t" * 62 for n in range(50)]),
        UploadDocument(**UPLOAD, tags=tuple(f"{n:02}" + "t" * 62 for n in range(50))),
    ),
    ("upload_document", upload(tags=[SQL, "a b"]), UploadDocument(**UPLOAD, tags=(SQL, "a b"))),
    *[
        ("upload_document", upload(mime_type=mime), UploadDocument(**upload(mime_type=mime)))
        for mime in ("text/plain", "image/svg+xml", "application/vnd.ms-excel", "Application/PDF")
    ],
    *[
        ("upload_document", upload(blob_uri=uri), UploadDocument(**upload(blob_uri=uri)))
        for uri in (
            "s3://bucket/a/b/c.pdf",
            "gs://bucket/object",
            "az://container/blob",
            "https://files.example.com:8443/x/y%20z.pdf",
            "s3://bucket/a..b/...",
            "s3://bucket/a/%C3%A9.pdf",
        )
    ],
    (
        "share_document",
        SHARE,
        ShareDocument(doc_id="d1", shared_by="alice", shared_with="bob", role=Role.VIEWER),
    ),
    (
        "share_document",
        {**SHARE, "role": "owner"},
        ShareDocument(doc_id="d1", shared_by="alice", shared_with="bob", role=Role.OWNER),
    ),
    (
        "list_folder",
        {"folder_id": "f1", "requested_by": "alice"},
        ListFolderDocuments(folder_id="f1", requested_by="alice"),
    ),
    (
        "list_folder",
        {"folder_id": "f1", "requested_by": "alice", "limit": 1000, "cursor": "anything: refused later"},
        ListFolderDocuments(
            folder_id="f1", requested_by="alice", limit=1000, cursor="anything: refused later"
        ),
    ),
]


@pytest.mark.parametrize(("actor", "kwargs", "expected"), GOOD)
def test_a_valid_message_becomes_exactly_its_domain_command(
    actor: str, kwargs: dict[str, Any], expected: object
) -> None:
    assert parse(actor, (), kwargs) == expected


BAD: list[tuple[str, tuple[Any, ...], Any, list[str]]] = [
    ("add_member", (), {"org_id": "acme"}, ["user_id: is required"]),
    ("add_member", (), {"org_id": "acme", "user_id": "bob", "role": "owner"}, ["role: is not a field"]),
    (
        "add_member",
        (),
        {"org_id": 1, "user_id": "bob"},
        ["org_id: input should be a valid string, not a number"],
    ),
    (
        "add_member",
        (),
        {"org_id": None, "user_id": True},
        ["org_id:", "not null", "user_id:", "not a boolean"],
    ),
    ("add_member", ("acme", "bob"), {}, ["args: positional arguments are not accepted (2 given)"]),
    ("add_member", (), ["acme", "bob"], ["kwargs: must be a JSON object"]),
    ("delete_everything", (), {}, ["actor: there is no actor named 'delete_everything'"]),
    *[
        ("add_member", (), {"org_id": bad, "user_id": "bob"}, ["org_id: must be 1 to 128 characters"])
        for bad in (
            "",
            "a*b",
            "a#b",
            "a b",
            "acme\n",
            "a/b",
            "x" * 129,
            "\uff41\uff43\uff4d\uff45",
            "a\x00",
            "*",
            "#",
        )
    ],
    ("create_folder", (), {**FOLDER, "name": "   "}, ["name: must not be blank"]),
    ("create_folder", (), {**FOLDER, "name": "\u200b"}, ["name: must not be blank"]),
    ("create_folder", (), {**FOLDER, "name": "\u2800 \u3164"}, ["name: must not be blank"]),
    ("create_folder", (), {**FOLDER, "name": " \ufeff\u00ad "}, ["name: must not be blank"]),
    ("upload_document", (), upload(tags=["\u2060"]), ["tags.0: must not be blank"]),
    ("create_folder", (), {**FOLDER, "name": ""}, ["name: string should have at least 1 character"]),
    ("create_folder", (), {**FOLDER, "parent_id": 7}, ["parent_id:"]),
    ("create_folder", (), {**FOLDER, "parent_id": "f1"}, ["parent_id: must not be the folder itself"]),
    ("upload_document", (), upload(name="a\x00b"), ["name: must not contain a control character (U+0000)"]),
    (
        "upload_document",
        (),
        upload(name="line\nbreak"),
        ["name: must not contain a control character (U+000A)"],
    ),
    ("upload_document", (), upload(name="\x85next"), ["name: must not contain a control character (U+0085)"]),
    ("upload_document", (), upload(name="invoice\u202efdp.exe"), ["bidirectional control (U+202E)"]),
    ("upload_document", (), upload(name="a\u2066b"), ["bidirectional control (U+2066)"]),
    ("upload_document", (), upload(name="\ud800.pdf"), ["name: must be valid Unicode text"]),
    ("upload_document", (), upload(name="n" * 256), ["name: string should have at most 255 characters"]),
    ("upload_document", (), upload(mime_type="pdf"), ["mime_type: must be a media type"]),
    (
        "upload_document",
        (),
        upload(mime_type="text/plain; charset=utf-8"),
        ["mime_type: must be a media type"],
    ),
    ("upload_document", (), upload(mime_type="text/ plain"), ["mime_type: must be a media type"]),
    ("upload_document", (), upload(mime_type="*/*"), ["mime_type: must be a media type"]),
    *[
        ("upload_document", (), upload(blob_uri=uri), ["blob_uri: must be an absolute URI"])
        for uri in (
            "javascript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "file:///etc/passwd",
            "http://files.example.com/x",
            "S3://bucket/x",
            "s3:bucket/x",
            "/relative/path",
            "https://user:secret@host/x",
            "https://host/x?X-Amz-Signature=abc",
            "https://host/x#fragment",
            "s3://bucket/a b",
            "s3://bücket/x",
            "s3://bucket/a\\..\\b",
            "s3://bucket/x\x07",
            "s3://bucket/%zz",
        )
    ],
    (
        "upload_document",
        (),
        upload(blob_uri="s3://b/" + "k" * 2048),
        ["blob_uri: string should have at most 2048"],
    ),
    *[
        (
            "upload_document",
            (),
            upload(blob_uri=uri),
            ["blob_uri: must not contain '.' or '..' path segments"],
        )
        for uri in (
            "s3://bucket/a/../b",
            "s3://bucket/./a",
            "s3://bucket/a/%2e%2e/b",
            "s3://bucket/a%2F..%2Fb",
        )
    ],
    (
        "upload_document",
        (),
        upload(blob_uri="s3://bucket/a%00b"),
        ["blob_uri: must not encode control characters"],
    ),
    (
        "upload_document",
        (),
        upload(blob_uri="s3://bucket/a%5Cb"),
        ["blob_uri: must not encode control characters"],
    ),
    (
        "upload_document",
        (),
        upload(blob_uri="s3://bucket/a%E2%80%AEb"),  # U+202E: would show the rest of the path reversed
        ["blob_uri: must not encode control characters, bidirectional controls or backslashes"],
    ),
    ("upload_document", (), upload(blob_uri="s3://bucket/"), ["blob_uri: must be an absolute URI"]),
    ("upload_document", (), upload(blob_uri="s3://bucket/%2F"), ["blob_uri: must name an object"]),
    ("upload_document", (), upload(tags="finance"), ["tags: input should be a valid list, not a string"]),
    ("upload_document", (), upload(tags=["x"] * 51), ["tags: list should have at most 50 items"]),
    (
        "upload_document",
        (),
        upload(tags=[f"t{n}" for n in range(100_000)]),
        ["tags: list should have at most 50"],
    ),
    ("upload_document", (), upload(tags=["a", "a"]), ["tags: must not repeat a tag"]),
    ("upload_document", (), upload(tags=["t" * 65]), ["tags.0: string should have at most 64 characters"]),
    ("upload_document", (), upload(tags=["ok", ""]), ["tags.1: string should have at least 1 character"]),
    ("upload_document", (), upload(tags=["ok", 3]), ["tags.1: input should be a valid string, not a number"]),
    ("upload_document", (), upload(tags=["a\x00"]), ["tags.0: must not contain a control character"]),
    (
        "share_document",
        (),
        {**SHARE, "role": "admin"},
        ["role: input should be 'viewer', 'editor' or 'owner'"],
    ),
    (
        "share_document",
        (),
        {**SHARE, "role": "Owner"},
        ["role: input should be 'viewer', 'editor' or 'owner'"],
    ),
    ("share_document", (), {**SHARE, "role": ["owner"]}, ["role:"]),
    (
        "list_folder",
        (),
        {"folder_id": "f1", "requested_by": "a", "limit": "10"},
        ["limit: input should be a valid integer"],
    ),
    (
        "list_folder",
        (),
        {"folder_id": "f1", "requested_by": "a", "limit": 1.0},
        ["limit: input should be a valid integer"],
    ),
    (
        "list_folder",
        (),
        {"folder_id": "f1", "requested_by": "a", "limit": True},
        ["limit: input should be a valid integer"],
    ),
    (
        "list_folder",
        (),
        {"folder_id": "f1", "requested_by": "a", "limit": 0},
        ["limit: input should be greater than or equal to 1"],
    ),
    (
        "list_folder",
        (),
        {"folder_id": "f1", "requested_by": "a", "limit": 1001},
        ["limit: input should be less than or equal to 1000"],
    ),
    (
        "list_folder",
        (),
        {"folder_id": "f1", "requested_by": "a", "cursor": "c" * 1025},
        ["cursor: string should have at most 1024"],
    ),
]


@pytest.mark.parametrize(("actor", "args", "kwargs", "expected"), BAD)
def test_an_invalid_message_lists_its_problems(
    actor: str, args: tuple[Any, ...], kwargs: Any, expected: list[str]
) -> None:
    with pytest.raises(InvalidMessage) as raised:
        parse(actor, args, kwargs)

    text = "; ".join(raised.value.problems)
    for fragment in expected:
        assert fragment in text
    assert raised.value.actor == actor


def test_every_problem_of_a_message_is_listed_at_once() -> None:
    with pytest.raises(InvalidMessage) as raised:
        parse(
            "upload_document",
            (1,),
            upload(doc_id="a*", name="", mime_type="x", blob_uri="data:,", tags=[1], extra=2),
        )

    fields = [problem.split(":")[0] for problem in raised.value.problems]
    assert fields == ["args", "doc_id", "name", "mime_type", "blob_uri", "tags.0", "extra"]


def test_problems_never_echo_a_value_and_are_capped() -> None:
    hostile = {f"field-{n}-\x1b[31m": "x" for n in range(100)}
    with pytest.raises(InvalidMessage) as raised:
        parse("add_member", (), {"org_id": "\x1b[2J" + "x" * 10_000, **hostile})

    assert len(raised.value.problems) == MAX_PROBLEMS + 1
    assert raised.value.problems[-1] == f"... and {100 + 2 - MAX_PROBLEMS} more problems"
    assert "\x1b[2J" not in str(raised.value)
    assert len(str(raised.value)) < 2_000


def test_a_command_is_not_a_query_and_back() -> None:
    with pytest.raises(InvalidMessage, match="is a query, not a command"):
        parse_command("list_folder", (), {"folder_id": "f1", "requested_by": "a"})
    with pytest.raises(InvalidMessage, match="is a command, not a query"):
        parse_query("add_member", (), {"org_id": "acme", "user_id": "bob"})


SAFE_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs"),
        blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    ),
    min_size=1,
    max_size=255,
).filter(lambda text: not is_blank(text))


@given(name=SAFE_TEXT)
def test_any_safe_name_round_trips_exactly(name: str) -> None:
    command = parse_command("upload_document", (), upload(name=name))
    assert isinstance(command, UploadDocument)
    assert command.name == name


@given(
    prefix=st.text(max_size=20),
    unsafe=st.sampled_from(["\x00", "\x1f", "\x7f", "\x9b", "\u202e", "\u2069", "\udc80"]),
)
def test_any_name_with_an_unsafe_character_is_rejected(prefix: str, unsafe: str) -> None:
    with pytest.raises(InvalidMessage):
        parse("upload_document", (), upload(name=prefix + unsafe + "x"))


@given(identifier=st.from_regex(r"\A[A-Za-z0-9_.:-]{1,128}\Z"))
def test_any_id_of_the_alphabet_is_accepted(identifier: str) -> None:
    assert parse("add_member", (), {"org_id": identifier, "user_id": identifier}) == AddMember(
        org_id=identifier, user_id=identifier
    )
