"""Valkey clients shared by the cache tests: one on the real server, one on a port where nothing listens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest
import valkey

from adapters.valkey.client import connect
from tests.integration.test_valkey_support import NOTHING_LISTENS


@pytest.fixture
def live(valkey_url: str) -> Iterator[valkey.Valkey]:
    with closing(connect(valkey_url)) as client:
        yield client


@pytest.fixture
def dead() -> Iterator[valkey.Valkey]:
    with closing(connect(NOTHING_LISTENS)) as client:
        yield client
