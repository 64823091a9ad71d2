"""How ``docfleet dlq`` names one dead letter: by its message id, or by its body's SHA-256.

A letter whose message id cannot be read (an unreadable body), or one of several letters under one id,
is named ``sha256:`` and the start (12 to 64 hex digits) of the SHA-256 of its body: ``dlq ls`` shows
the first 16 digits for a letter without a readable id, ``dlq ls --json`` gives the whole digest of each
(``workers.dead_letter_names``). A message id may hold ``:``: one that reads as such a name is taken for
a digest.
"""

from __future__ import annotations

import re

from adapters.rabbitmq.dead_letters import DeadLetter
from workers.contract_fields import is_id
from workers.dead_letter_names import BODY_PREFIX, body_digest
from workers.middleware.envelope import EnvelopeEncoder, UnreadableMessage

_BODY_NAME = re.compile(r"sha256:[0-9a-fA-F]{12,64}")


def message_id_of(letter: DeadLetter) -> str | None:
    try:
        return str(EnvelopeEncoder().decode(letter.body)["message_id"])
    except UnreadableMessage as unreadable:
        return unreadable.message_id


def problem_with(name: str) -> str | None:
    """Why ``name`` names no letter, if it cannot: neither a message id nor sha256: and 12 to 64 digits."""
    if is_id(name) or _BODY_NAME.fullmatch(name):
        return None
    return f"{name!r} is neither a message id nor {BODY_PREFIX} and 12 to 64 hex digits of a body's SHA-256"


def digest_hint(name: str, *, digests_taken: bool = True) -> str:
    """How a name that found no letter was read, where it looks like a digest: one that is not a whole
    one, or any where the command takes message ids alone (``dlq replay``)."""
    if name[: len(BODY_PREFIX)].lower() != BODY_PREFIX:
        return ""
    if not digests_taken:
        return " (read as a message id: this command names letters by message id alone)"
    if _BODY_NAME.fullmatch(name):
        return ""
    return (
        f" (read as a message id: a body's digest is {BODY_PREFIX}, in lower case, and 12 to 64 hex digits)"
    )


class NamedLetters:
    """Tells the letters that ``names`` name, remembering which names found one."""

    def __init__(self, names: set[str]) -> None:
        digests = {name for name in names if _BODY_NAME.fullmatch(name)}
        self._digests = {name: name.removeprefix(BODY_PREFIX).lower() for name in digests}
        self._ids = names - digests
        self.found: set[str] = set()

    def __call__(self, letter: DeadLetter) -> bool:
        matched: set[str] = set()
        if self._digests:
            digest = body_digest(letter.body)
            matched = {name for name, digits in self._digests.items() if digest.startswith(digits)}
        if self._ids and (message_id := message_id_of(letter)) in self._ids:
            matched.add(str(message_id))
        self.found |= matched
        return bool(matched)

    @property
    def missing(self) -> set[str]:
        return {*self._ids, *self._digests} - self.found
