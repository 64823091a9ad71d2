"""The Valkey user contract §5 gives a query client: it waits for, reads and deletes an answer, and can
touch nothing else, the listing cache least of all."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import valkey
import valkey.exceptions

pytestmark = pytest.mark.integration

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


@pytest.fixture
def query_client(valkey_url: str, key_prefix: str) -> Iterator[valkey.Valkey]:
    """A client logged in as the contract's user, its prefix and name this test's own."""
    [rule] = re.findall(r"^ACL SETUSER docfleet-queries (.*)$", CONTRACT.read_text(), flags=re.MULTILINE)
    user, password = f"docfleet-queries-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    rule = rule.replace(">PASSWORD", f">{password}").replace("~docfleet:", f"~{key_prefix}")
    with valkey.Valkey.from_url(valkey_url) as admin:
        admin.execute_command("ACL", "SETUSER", user, *rule.split())
        try:
            parts = urlsplit(valkey_url)
            netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 6379}"
            with valkey.Valkey.from_url(urlunsplit(parts._replace(netloc=netloc))) as client:
                yield client
        finally:
            admin.execute_command("ACL", "DELUSER", user)


def test_the_query_clients_user_waits_for_reads_and_deletes_an_answer_and_nothing_else(
    query_client: valkey.Valkey, valkey_url: str, key_prefix: str
) -> None:
    answer = f"{key_prefix}results:documents-queries:list_folder:{uuid.uuid4()}"
    listing = f"{key_prefix}listing:some-database:some-folder"
    with valkey.Valkey.from_url(valkey_url) as admin:
        admin.rpush(answer, '{"documents": [], "next_cursor": null}')
        admin.set(listing, "cached")

        assert (
            query_client.blmove(answer, answer, 1, "RIGHT", "LEFT")
            == b'{"documents": [], "next_cursor": null}'
        )
        assert query_client.lindex(answer, 0) is not None
        assert query_client.delete(answer) == 1
        with pytest.raises(valkey.exceptions.NoPermissionError):
            query_client.set(listing, "forged")
        with pytest.raises(valkey.exceptions.NoPermissionError):
            query_client.get(listing)
        with pytest.raises(valkey.exceptions.NoPermissionError):
            query_client.rpush(answer, "forged")  # not even its own answer's key
        with pytest.raises(valkey.exceptions.NoPermissionError):
            query_client.client_kill_filter(_id=str(2**62))  # another client's connection
        assert admin.get(listing) == b"cached"
