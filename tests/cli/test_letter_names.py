"""How ``dlq show`` and ``dlq purge`` tell the dead letters a name names."""

from __future__ import annotations

import hashlib
import json

from adapters.rabbitmq.dead_letters import DeadLetter
from tests.cli.support import encoded, envelope
from workers.cli.letter_names import NamedLetters, digest_hint, problem_with
from workers.dead_letter_names import digest_name


def _letter(body: bytes) -> DeadLetter:
    return DeadLetter(queue="documents.XQ", body=body, died_in=None, death_reason=None, died_at=None)


READABLE = encoded(envelope("add_member", {"org_id": "acme", "user_id": "bob"}))
UNREADABLE = b"\xff not json"


def test_a_letter_is_named_by_its_message_id_or_by_the_start_of_its_body_digest() -> None:
    message_id = json.loads(READABLE)["message_id"]
    digest = hashlib.sha256(UNREADABLE).hexdigest()
    named = NamedLetters({message_id, f"sha256:{digest[:12]}", "no-such-id"})

    assert [named(_letter(body)) for body in (READABLE, UNREADABLE, b"{}")] == [True, True, False]
    assert named.missing == {"no-such-id"}


def test_a_name_too_short_for_a_digest_is_a_message_id_never_a_prefix_of_every_body() -> None:
    digest = hashlib.sha256(UNREADABLE).hexdigest()
    named = NamedLetters({f"sha256:{digest[:11]}"})

    assert named(_letter(UNREADABLE)) is False
    assert problem_with(f"sha256:{digest[:11]}") is None  # a message id may read so
    assert "12 to 64 hex digits" in digest_hint(f"sha256:{digest[:11]}"), "told, when it finds nothing"
    assert "in lower case" in digest_hint(f"SHA256:{digest[:16]}")
    assert digest_hint(f"sha256:{digest[:12]}") == digest_hint("no-such-id") == ""
    assert "by message id alone" in digest_hint(f"sha256:{digest[:16]}", digests_taken=False)


def test_a_digest_is_named_by_its_first_16_digits_and_found_whatever_its_case() -> None:
    digest = hashlib.sha256(UNREADABLE).hexdigest()
    named = NamedLetters({f"sha256:{digest.upper()}"})

    assert digest_name(digest) == f"sha256:{digest[:16]}"
    assert named(_letter(UNREADABLE)) is True
    assert problem_with("a b") is not None
