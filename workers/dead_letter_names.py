"""How a dead letter without a readable message id is named: ``sha256:`` and the first 16 hex digits of
its body's SHA-256. The worker's line for such a message gives it, ``docfleet dlq ls`` shows it, and
``dlq show`` and ``dlq purge`` take it (``workers.cli.letter_names``)."""

from __future__ import annotations

import hashlib

BODY_PREFIX = "sha256:"
SHOWN_DIGITS = 16


def body_digest(body: bytes) -> str:
    """The body's SHA-256, in lowercase hex."""
    return hashlib.sha256(body).hexdigest()


def digest_name(digest: str) -> str:
    return f"{BODY_PREFIX}{digest[:SHOWN_DIGITS]}"
