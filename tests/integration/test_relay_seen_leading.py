"""``relay_is_leading``: whether a session of the database holds the publishing relay's lock, as
`docfleet health` asks it."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine

from adapters.postgres.relay_connections import RelayLeadership, relay_is_leading

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sign", [1, -1], ids=["positive key", "negative key"])
def test_a_held_lock_is_seen_and_a_released_one_is_not(engine: Engine, sign: int) -> None:
    key = sign * random.getrandbits(62)  # a key of this test's own: other tests' relays hold theirs

    assert not relay_is_leading(engine, key)
    with RelayLeadership(engine, lock_key=key) as relay:
        assert relay.acquire()
        assert relay_is_leading(engine, key)
        assert not relay_is_leading(engine, key ^ 1), "another key is another lock"
    assert not relay_is_leading(engine, key)
