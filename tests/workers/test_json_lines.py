"""Log lines written by msgspec read as ``json.dumps`` wrote them, and stay ASCII."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.json_lines import json_line

# Finite floats: json.dumps writes NaN and infinities as bare words no JSON reader takes, msgspec as null
# (the last test).
finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers() | finite | st.text()
anything = st.recursive(
    scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=8
)


def _dumps(event_dict: dict[str, Any]) -> str:
    return json.dumps(event_dict, default=repr, separators=(",", ":"))


@given(st.dictionaries(st.text(), scalars))
def test_a_line_of_scalars_is_what_json_dumps_writes(event_dict: dict[str, Any]) -> None:
    assert json.loads(json_line(event_dict, default=repr)) == json.loads(_dumps(event_dict))


@given(st.dictionaries(st.text(), anything))
def test_every_line_is_ascii_and_reads_back_as_json_dumps_wrote_it(event_dict: dict[str, Any]) -> None:
    line = json_line(event_dict, default=repr)

    assert line.isascii()
    assert json.loads(line) == json.loads(_dumps(event_dict))


def test_a_value_json_has_no_type_for_is_its_repr_as_before() -> None:
    event_dict = {"body": b"\x00raw", "ids": {"a"}, "event": "x"}

    expected = {"body": "b'\\x00raw'", "ids": "{'a'}", "event": "x"}
    assert json.loads(json_line(event_dict, default=repr)) == expected


def test_nan_and_infinities_are_written_as_null_where_msgspec_writes_the_line() -> None:
    for value in (math.nan, math.inf, -math.inf):
        assert json.loads(json_line({"ratio": value, "event": "x"})) == {"ratio": None, "event": "x"}


def test_nan_and_infinities_are_null_where_json_dumps_writes_the_line_too() -> None:
    """A line with a text beyond ASCII, or a value not a scalar, is json.dumps's, which writes NaN."""
    event_dict = {"event": "x", "name": "é", "ratios": [math.inf, 1.5], "by": {"a": -math.inf, "b": math.nan}}

    line = json_line(event_dict, default=repr)

    assert json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in the line")) == {
        "event": "x",
        "name": "é",
        "ratios": [None, 1.5],
        "by": {"a": None, "b": None},
    }


def test_an_integer_too_long_to_write_in_decimal_is_given_by_its_size_and_the_line_still_goes() -> None:
    huge = int("9" * 4300) + 1  # Python writes no integer of more than 4,300 digits

    for extra in ({}, {"name": "é"}):  # a line msgspec writes, and one json.dumps writes
        line = json_line({"event": "x", "attempt": huge, "all": [1, huge], **extra}, default=repr)

        assert json.loads(line) == {
            "event": "x",
            "attempt": "<an integer of 14285 bits>",
            "all": [1, "<an integer of 14285 bits>"],
            **extra,
        }
