"""The caches' Valkey clients give up after 0.25 s, and a URL's own timeouts replace that, as
docs/reliability.md says, for a Valkey far enough away that connecting takes longer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import valkey

from adapters.valkey.client import connect, single_client


def _timeouts(client: valkey.Valkey) -> tuple[float, float]:
    kwargs = client.connection_pool.connection_kwargs
    return kwargs["socket_connect_timeout"], kwargs["socket_timeout"]


def test_the_caches_give_up_after_a_quarter_of_a_second_by_default() -> None:
    assert _timeouts(connect("redis://127.0.0.1:6379/0")) == (0.25, 0.25)


@pytest.mark.parametrize("build", [connect, lambda url: single_client(url, timeout=5.0)])
def test_a_urls_own_timeouts_win(build: Callable[[str], valkey.Valkey]) -> None:
    client = build("rediss://cache.example.com:6380/0?socket_connect_timeout=1.5&socket_timeout=0.75")
    assert _timeouts(client) == (1.5, 0.75)
