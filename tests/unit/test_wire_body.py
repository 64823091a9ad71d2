"""The relay's body encoding writes, byte for byte, the compact JSON the contract has always carried."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.rabbitmq.wire import LEADING_FIELDS, encode_body

# What an event body holds: texts (any character a string may carry through UTF-8), integers, nulls.
VALUES = (
    st.none()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]))
)
PAYLOADS = st.dictionaries(st.sampled_from(LEADING_FIELDS) | st.text(min_size=1, max_size=12), VALUES)


def _as_json_dumps_wrote(payload: dict[str, Any]) -> bytes:
    ordered = {key: payload[key] for key in LEADING_FIELDS if key in payload}
    ordered |= {key: value for key, value in payload.items() if key not in ordered}
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=300)
@given(payload=PAYLOADS)
def test_any_body_is_encoded_as_json_dumps_encoded_it(payload: dict[str, Any]) -> None:
    assert encode_body(payload) == _as_json_dumps_wrote(payload)


def test_control_characters_quotes_and_non_ascii_are_written_as_before() -> None:
    payload = {"detail": 'a\x1fb "q" \\ é \u2028 \U0001f600 </script>', "event_id": "e"}
    assert encode_body(payload) == _as_json_dumps_wrote(payload)
    assert encode_body(payload).startswith(b'{"event_id":"e","detail":"a\\u001fb \\"q\\" \\\\ ')
