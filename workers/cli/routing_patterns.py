"""Whether a topic pattern given to ``docfleet events tail`` can match a routing key docfleet sends.

A binding whose pattern matches none of them waits for ever in silence: ``documents.#`` for
``document.#``, ``*`` for ``#``. The keys are a fixed few, and ``command.rejected.`` followed by any
actor name a rejected message carried (one word), which ``_ANY_WORD`` stands for.
"""

from __future__ import annotations

import re
from typing import Final

from adapters.event_codec import REJECTED_PREFIX, routing_keys

# docfleet's routing keys are words of letters, digits and _ (its actors' names included)
PATTERN_SYNTAX: Final = re.compile(r"(?:[A-Za-z0-9_]+|\*|#)(?:\.(?:[A-Za-z0-9_]+|\*|#))*", re.ASCII)
_ANY_WORD: Final = ""  # in a key: any one word; a pattern's words are never empty


def could_match(pattern: str) -> bool:
    """Whether the (well-formed) ``pattern`` matches some routing key docfleet sends."""
    words: list[str] = []
    for word in pattern.split("."):
        if not (word == "#" and words[-1:] == ["#"]):  # "#.#" is "#": without them, matching is exponential
            words.append(word)
    return any(_matches(words, key) for key in _docfleet_keys())


def _docfleet_keys() -> list[list[str]]:
    rejections = [*REJECTED_PREFIX.rstrip(".").split("."), _ANY_WORD]
    return [key.split(".") for key in routing_keys([])] + [rejections]


def _matches(pattern: list[str], key: list[str]) -> bool:
    """AMQP's topic matching: ``*`` is one word, ``#`` any number of words, others themselves."""
    if not pattern:
        return not key
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_matches(rest, key[start:]) for start in range(len(key) + 1))
    if not key or (head not in ("*", key[0]) and key[0] != _ANY_WORD):
        return False
    return _matches(rest, key[1:])
