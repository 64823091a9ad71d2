"""How ``docfleet dlq`` names one dead letter: by its message id, or by its body's SHA-256.

A letter whose message id cannot be read (an unreadable body), or one of several copies under one id,
is named ``sha256:`` and the start of the hex SHA-256 of its body: ``dlq ls`` shows the first 16 digits
for a letter without a readable id, ``dlq ls --json`` gives the whole digest of each. (A message id
may hold ``:``: one that reads as such a name would be taken for it.)
"""

from __future__ import annotations

import hashlib
import re

from adapters.rabbitmq.dead_letters import DeadLetter
from workers.contract_fields import is_id
from workers.middleware.envelope import EnvelopeEncoder, UnreadableMessage
from workers.middleware.screening import BODY_PREFIX, SHOWN_DIGITS

_BODY_NAME = re.compile(r"sha256:[0-9a-f]{12,64}")


def message_id_of(letter: DeadLetter) -> str | None:
    try:
        return str(EnvelopeEncoder().decode(letter.body)["message_id"])
    except UnreadableMessage as unreadable:
        return unreadable.message_id


def body_sha256(letter: DeadLetter) -> str:
    return hashlib.sha256(letter.body).hexdigest()


def shown_name(message_id: str | None, sha256: str) -> str:
    """What ``dlq ls`` shows a letter as: its message id, else the start of its body's digest."""
    return message_id if message_id is not None else f"{BODY_PREFIX}{sha256[:SHOWN_DIGITS]}"


def problem_with(name: str) -> str | None:
    """Why ``name`` names no letter, if it cannot: neither a message id nor sha256: and 12 to 64 digits."""
    if is_id(name) or _BODY_NAME.fullmatch(name):
        return None
    return f"{name!r} is neither a message id nor {BODY_PREFIX} and 12 to 64 hex digits of a body's SHA-256"


class NamedLetters:
    """Tells the letters that ``names`` name, remembering which names found one."""

    def __init__(self, names: set[str]) -> None:
        self._digests = {name: name.removeprefix(BODY_PREFIX) for name in names if _BODY_NAME.fullmatch(name)}
        self._ids = names - self._digests.keys()
        self.found: set[str] = set()

    def __call__(self, letter: DeadLetter) -> bool:
        matched = {name for name, digits in self._digests.items() if body_sha256(letter).startswith(digits)}
        if self._ids:
            message_id = message_id_of(letter)
            matched |= {message_id} & self._ids if message_id is not None else set()
        self.found |= matched
        return bool(matched)

    @property
    def missing(self) -> set[str]:
        return {*self._ids, *self._digests} - self.found
