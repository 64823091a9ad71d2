"""The input of ``docfleet bulk``: a JSON Lines file, one message a line, read as a stream.

A line is ``{"actor": "<actor>", "kwargs": {...}}``, with an optional ``"message_id"`` (the idempotency
key: give one to make sending the file again safe). Blank lines are skipped; line numbers count them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from adapters.rabbitmq.queue_publisher import OutgoingMessage
from workers.client import InvalidArguments, validate
from workers.client.envelopes import encode
from workers.contract import MAX_MESSAGE_BYTES, QUERIES
from workers.contract_json import load_json

LINE_FIELDS = frozenset({"actor", "kwargs", "message_id"})
LISTED = 20  # bad lines told one by one; the others are counted (as ``bulk_send.LISTED``)
# A longer line would make a message over the contract's limit: it is read through, never held whole.
MAX_LINE_BYTES = MAX_MESSAGE_BYTES
_READ_THROUGH = 1024 * 1024


class LineRejected(Exception):
    def __init__(self, number: int, why: str) -> None:
        super().__init__(f"line {number}: {why}")
        self.number = number
        self.why = why


@dataclass(frozen=True)
class Line:
    number: int
    actor: str
    kwargs: dict[str, Any]
    message_id: str | None

    def prepared(self) -> OutgoingMessage:
        """The message; the line was validated when it was read."""
        return encode(self.actor, self.kwargs, self.message_id)


@dataclass
class Scan:
    """What a first pass over the file found: the lines to send, the lines rejected (the first few told),
    and a digest of the bytes read, to tell whether the second pass reads the same file."""

    valid: int = 0
    rejected: int = 0
    told: list[LineRejected] = field(default_factory=list)
    digest: bytes = b""

    def reject(self, rejection: LineRejected) -> None:
        self.rejected += 1
        if len(self.told) < LISTED:
            self.told.append(rejection)


_BOM = "\ufeff".encode()  # as some editors start a UTF-8 file


def lines(
    path: Path, on_bytes: Callable[[int], None] = lambda _: None, digest: Any = None
) -> Iterator[Line | LineRejected]:
    """Each non-blank line, validated as a worker would validate it, or why it is rejected; a message id
    given twice rejects the second line (it would be a duplicate, applied never). ``digest`` (a hashlib
    object) is fed every byte read."""
    first_seen: dict[str, int] = {}
    with path.open("rb") as stream:
        for number, raw in enumerate(_raw_lines(stream, digest), start=1):
            on_bytes(raw if isinstance(raw, int) else len(raw))  # the length alone of a line too long
            try:
                line = parse_line(
                    number, raw.removeprefix(_BOM) if number == 1 and isinstance(raw, bytes) else raw
                )
            except LineRejected as rejection:
                yield rejection
                continue
            if line is not None and line.message_id is not None:
                earlier = first_seen.setdefault(line.message_id, number)
                if earlier != number:
                    yield LineRejected(number, f"message_id: already given on line {earlier}")
                    continue
            if line is not None:
                yield line


def _raw_lines(stream: IO[bytes], digest: Any) -> Iterator[bytes | int]:
    """Each line as read, or the length of one over ``MAX_LINE_BYTES``, read through in chunks."""
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        if digest is not None:
            digest.update(raw)
        if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
            yield raw
            continue
        size = len(raw)
        while raw and not raw.endswith(b"\n"):
            raw = stream.readline(_READ_THROUGH)
            size += len(raw)
            if digest is not None:
                digest.update(raw)
        yield size


def new_digest() -> Any:
    return hashlib.blake2b(digest_size=16)


def scan(path: Path, on_bytes: Callable[[int], None] = lambda _: None) -> Scan:
    """Validates every line, holding none of them."""
    found, digest = Scan(), new_digest()
    for item in lines(path, on_bytes, digest):
        if isinstance(item, LineRejected):
            found.reject(item)
        else:
            found.valid += 1
    found.digest = digest.digest()
    return found


def _json_problem(error: ValueError) -> str:
    """The parser's complaint, placed by column only: the file's line number is told beside it."""
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at column {error.colno}"[:80]
    return str(error)[:80]


def parse_line(number: int, raw: bytes | int) -> Line | None:
    """``raw``: the line, or the length of one too long to have been read whole."""
    if isinstance(raw, int):
        raise LineRejected(number, f"{raw} bytes long, over the {MAX_LINE_BYTES} bytes a message may take")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LineRejected(number, "not UTF-8 text") from None
    if not text.strip():
        return None
    try:
        fields = load_json(text.rstrip("\r\n"))
    except ValueError as error:
        raise LineRejected(number, f"not JSON ({_json_problem(error)})") from None
    line = _line(number, fields)
    try:
        validate(line.actor, line.kwargs, line.message_id)
    except InvalidArguments as invalid:
        raise LineRejected(number, f"{invalid.actor}: " + "; ".join(invalid.problems)) from None
    return line


def _line(number: int, fields: object) -> Line:
    if not isinstance(fields, dict):
        raise LineRejected(number, 'must be a JSON object: {"actor": ..., "kwargs": {...}}')
    unknown = sorted(set(fields) - LINE_FIELDS)
    if unknown:
        raise LineRejected(number, f"unknown field {unknown[0][:40]!r} (expected actor, kwargs, message_id)")
    actor, kwargs, message_id = fields.get("actor"), fields.get("kwargs"), fields.get("message_id")
    if not isinstance(actor, str):
        raise LineRejected(number, "actor: must be a string naming an actor, e.g. add_member")
    if actor in QUERIES:
        raise LineRejected(number, f"{actor} is a query, whose answer nobody would read: use folder ls")
    if not isinstance(kwargs, dict):
        raise LineRejected(number, "kwargs: must be a JSON object of the actor's arguments")
    if message_id is not None and not isinstance(message_id, str):
        raise LineRejected(number, "message_id: must be a string")
    return Line(number, actor, kwargs, message_id)
