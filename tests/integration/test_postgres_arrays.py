"""Array literals read back by Postgres exactly as the values they were built from."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from adapters.postgres.arrays import bigint_array, text_array
from adapters.postgres.engine import libpq_conninfo

pytestmark = pytest.mark.integration

# Postgres text holds any character but NUL.
TEXTS = st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))


@pytest.fixture(scope="module")
def connection(engine: Engine) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(libpq_conninfo(engine.url), autocommit=True) as connection:
        yield connection


@settings(max_examples=300)
@given(values=st.lists(st.none() | TEXTS | st.sampled_from(['"', "\\", "NULL", "{}", "a,b", " x ", ""])))
def test_any_texts_and_nulls_come_back_unchanged(
    connection: psycopg.Connection[tuple[object, ...]], values: list[str | None]
) -> None:
    row = connection.execute("SELECT %s::text[]", (text_array(values),)).fetchone()
    assert row is not None
    assert row[0] == values


@pytest.mark.parametrize("values", [["a\x00b"], ["a", "\x00"], [None, "a\x00b"]])
def test_a_nul_character_is_refused_rather_than_read_as_a_separator(values: list[str | None]) -> None:
    with pytest.raises(ValueError, match="NUL"):
        text_array(values)


def test_an_empty_list_is_an_empty_array(connection: psycopg.Connection[tuple[object, ...]]) -> None:
    row = connection.execute("SELECT %s::text[]", (text_array([]),)).fetchone()
    assert row is not None
    assert row[0] == []


@settings(max_examples=100)
@given(values=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1)))
def test_any_bigints_come_back_unchanged(
    connection: psycopg.Connection[tuple[object, ...]], values: list[int]
) -> None:
    row = connection.execute("SELECT %s::bigint[]", (bigint_array(values),)).fetchone()
    assert row is not None
    assert row[0] == values
