"""The contract's field types: ids, names, tags, media types and blob URIs, each with its rules, shared
by the actors' keyword-argument models (``workers.contract``) and their JSON Schemas. See docs/contract.md.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, Field, StringConstraints

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
ACTOR_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MIME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
_HOST = r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}"
_PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
BLOB_URI_PATTERN = (
    rf"^((s3|gs|az)://{_HOST}|https://{_HOST}(:{_PORT})?)"  # a port (1 to 65535) for https only
    r"(/+([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+)+/*$"  # a path with a segment that is not empty
)
_ID = re.compile(ID_PATTERN)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Unicode's default-ignorable code points (zero-width spaces and joiners, the soft hyphen, variation
# selectors, fillers, tags), and U+2800, the Braille blank, which is drawn as an empty cell: a text of
# these and white space alone shows as nothing. Those outside the BMP are checked here but not in the
# JSON Schemas' pattern (see _SAFE_TEXT_PATTERN).
_INVISIBLE_BMP = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2060-\u206f\u2800\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
)
_INVISIBLE_BEYOND_BMP = r"\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
_BLANK = re.compile(rf"[\s{_INVISIBLE_BMP}{_INVISIBLE_BEYOND_BMP}]*")
# What a value that does not match a pattern is told, by pattern.
PATTERN_HELP = {
    ID_PATTERN: "must be 1 to 128 characters, each a letter, a digit or one of _ . : -",
    ACTOR_NAME_PATTERN: (
        "must be an actor's name: 1 to 64 characters, each a letter, a digit or _, not starting with a digit"
    ),
    MIME_PATTERN: "must be a media type such as application/pdf: type/subtype, no parameters",
    BLOB_URI_PATTERN: "must be an absolute URI s3://, gs://, az:// or https://bucket-or-host/path, in ASCII",
}


def is_blank(text: str) -> bool:
    """Whether ``text`` holds nothing visible: white space and invisible characters alone."""
    return _BLANK.fullmatch(text) is not None


def is_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _safe_text(value: str) -> str:
    unsafe = _UNSAFE.search(value)
    if unsafe is not None:
        char = unsafe.group()
        kind = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
        kind = "a bidirectional control" if "\u202a" <= char <= "\u2069" else kind
        raise ValueError(f"must not contain {kind} (U+{ord(char):04X})")
    if is_blank(value):
        raise ValueError("must not be blank")
    return value


def _safe_blob_path(uri: str) -> str:
    segments = unquote(urlsplit(uri).path).split("/")
    if any(segment in (".", "..") for segment in segments):
        raise ValueError("must not contain '.' or '..' path segments, encoded or not")
    if any(_UNSAFE.search(segment) or "\\" in segment for segment in segments):
        raise ValueError("must not encode control characters, bidirectional controls or backslashes")
    if not any(segments):
        raise ValueError("must name an object: a non-empty path after the bucket or host")
    return uri


def distinct(tags: list[str]) -> list[str]:
    if len(set(tags)) != len(tags):
        raise ValueError("must not repeat a tag")
    return tags


_TEXT_RULES = "no control characters, bidirectional controls (U+202A-U+202E, U+2066-U+2069), lone surrogates"
# What _safe_text checks, for the JSON Schemas (validation stays _safe_text's): some character that is
# neither blank (Python's str.isspace, spelled out: ECMA-262's \s differs), nor invisible, nor unsafe,
# and none unsafe.
# A lone surrogate, which JSON can carry as a \u escape, is left to the workers: a pattern without the
# "u" flag would refuse every character outside the BMP with it.
# The characters are in the pattern itself (the schema's JSON escapes them), not as the regex escape
# \uXXXX, which ECMA-262 and Python read but Go's regexp, and so Go's validators, refuse.
_UNSAFE_RANGES = "\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
_BLANK_RANGES = "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SAFE = rf"[^{_UNSAFE_RANGES}]"
_SAFE_TEXT_PATTERN = rf"^{_SAFE}*[^{_UNSAFE_RANGES}{_BLANK_RANGES}{_INVISIBLE_BMP}]{_SAFE}*$"
Id = Annotated[
    str, StringConstraints(pattern=ID_PATTERN), Field(description="1 to 128 of A-Z a-z 0-9 _ . : -")
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255),
    AfterValidator(_safe_text),
    Field(
        description=f"1 to 255 characters, not blank; {_TEXT_RULES}.",
        json_schema_extra={"pattern": _SAFE_TEXT_PATTERN},
    ),
]
Tag = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_safe_text),
    Field(
        description=f"1 to 64 characters, not blank; {_TEXT_RULES}.",
        json_schema_extra={"pattern": _SAFE_TEXT_PATTERN},
    ),
]
MimeType = Annotated[
    str, StringConstraints(pattern=MIME_PATTERN), Field(description="type/subtype (RFC 6838), no parameters")
]
BlobUri = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=BLOB_URI_PATTERN),
    AfterValidator(_safe_blob_path),
    Field(description="Where the bytes are; no userinfo, query, fragment, '.' or '..' segment."),
]
