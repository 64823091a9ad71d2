"""The fleet-wide count of a message's redeliveries, in Valkey."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import cast

import pytest
import valkey

from adapters.valkey.client import connect
from adapters.valkey.redeliveries import RedeliveryCounter

pytestmark = pytest.mark.integration


@pytest.fixture
def client(valkey_url: str) -> Iterator[valkey.Valkey]:
    with closing(connect(valkey_url)) as client:
        yield client


def test_each_message_is_counted_on_its_own_under_the_prefix_for_a_bounded_time(
    client: valkey.Valkey, key_prefix: str
) -> None:
    counter = RedeliveryCounter(client, key_prefix, ttl_seconds=600)

    counts = [counter.count("m1"), counter.count("m1"), counter.count("m2"), counter.count("m1")]

    assert counts == [1, 2, 1, 3]
    assert (counter.counted("m1"), counter.counted("m1"), counter.counted("never")) == (3, 3, 0)
    ttl = cast(int, client.ttl(f"{key_prefix}redelivered:m1"))
    assert 0 < ttl <= 600


def test_an_unreachable_valkey_raises_for_the_caller_to_decide() -> None:
    with closing(connect("redis://127.0.0.1:1/0")) as unreachable, pytest.raises(valkey.ValkeyError):
        RedeliveryCounter(unreachable, "p:").count("m1")


@pytest.fixture
def counted_twice(client: valkey.Valkey, key_prefix: str) -> RedeliveryCounter:
    """A counter whose message m1 was counted twice."""
    counter = RedeliveryCounter(client, key_prefix, ttl_seconds=600)
    counter.count("m1")
    counter.count("m1")
    return counter


def test_a_count_taken_back_never_goes_below_zero_nor_leaves_a_key(
    counted_twice: RedeliveryCounter, client: valkey.Valkey, key_prefix: str
) -> None:
    counter = counted_twice
    counter.uncount("m1")
    assert counter.counted("m1") == 1
    counter.uncount("m1")
    counter.uncount("m1")
    counter.uncount("never")

    assert (counter.counted("m1"), counter.counted("never")) == (0, 0)
    assert client.exists(f"{key_prefix}redelivered:m1", f"{key_prefix}redelivered:never") == 0


def test_a_count_taken_back_keeps_its_lifetime_even_after_valkey_forgot_the_script(
    counted_twice: RedeliveryCounter, client: valkey.Valkey, key_prefix: str
) -> None:
    client.script_flush()  # as after a restart of Valkey: the script is loaded again on first use

    counted_twice.uncount("m1")

    assert counted_twice.counted("m1") == 1
    assert 0 < cast(int, client.ttl(f"{key_prefix}redelivered:m1")) <= 600
