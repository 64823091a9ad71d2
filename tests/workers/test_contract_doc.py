"""docs/contract.md stays true: its JSON examples pass the real validators, its numbers are the code's."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from adapters.postgres.engine import LIVENESS
from workers.actors import COMMAND_OPTIONS, COMMAND_RETRIES, QUERY_OPTIONS, QUERY_RETRIES
from workers.contract import ACTOR_KWARGS, MAX_MESSAGE_BYTES, MAX_TAGS, parse
from workers.contract_events import EVENTS, ListFolderResult
from workers.middleware.envelope import EnvelopeEncoder

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def json_examples() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def test_the_document_has_an_example_message_per_actor_and_of_each_event() -> None:
    examples = json_examples()
    actors = {example["actor_name"] for example in examples if "actor_name" in example}
    types = {example["type"] for example in examples if "event_id" in example}

    assert actors == set(ACTOR_KWARGS)
    assert actors == {
        "add_member",
        "create_folder",
        "upload_document",
        "share_document",
        "revoke_access",
        "list_folder",
    }
    assert types == set(EVENTS)


@pytest.mark.parametrize(
    "example", [e for e in json_examples() if "actor_name" in e], ids=lambda e: e["message_id"]
)
def test_each_example_message_is_a_valid_message(example: dict[str, Any]) -> None:
    fields = EnvelopeEncoder().decode(json.dumps(example).encode())

    parse(fields["actor_name"], fields["args"], fields["kwargs"])


@pytest.mark.parametrize("example", [e for e in json_examples() if "event_id" in e], ids=lambda e: e["type"])
def test_each_example_event_matches_its_model(example: dict[str, Any]) -> None:
    EVENTS[example["type"]][0].model_validate(example, strict=True)


def test_each_example_result_matches_the_result_model() -> None:
    results = [example for example in json_examples() if "documents" in example]
    assert len(results) == 2
    for result in results:
        ListFolderResult.model_validate(result)


def test_the_documented_limits_are_the_code_s() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"at most **256 KiB** ({MAX_MESSAGE_BYTES:,} bytes)".replace(",", " ") in text
    assert f"at most {MAX_TAGS} distinct tags" in text
    assert f"retried **{COMMAND_RETRIES.not_found_retries} times**, waiting 100 ms" in text
    assert f"retried **{COMMAND_RETRIES.fault_retries} times** on the same schedule" in text
    least, most = QUERY_OPTIONS["min_backoff"] / 1000, QUERY_OPTIONS["max_backoff"] / 1000
    # dramatiq's compute_backoff: the doubled wait, jittered up to twice itself; capped only past `most`
    waits = [f"{least * 2**n:g} to {2 * least * 2**n:g} s" for n in range(QUERY_RETRIES.fault_retries)]
    assert 2 * least * 2 ** (QUERY_RETRIES.fault_retries - 1) <= most
    told = f"retried {QUERY_RETRIES.fault_retries} times, after {', '.join(waits[:-1])} and {waits[-1]}"
    assert told in " ".join(text.split())
    assert (COMMAND_OPTIONS["min_backoff"], COMMAND_OPTIONS["max_backoff"]) == (100, 2_000)
    assert COMMAND_OPTIONS["time_limit"] == math.inf, "commands are never interrupted by a time limit"
    assert QUERY_OPTIONS["time_limit"] == math.inf, "nor queries, whose thread runs commands next"
    assert "a time limit" not in text
    assert f"gone silent (given up after about {LIVENESS['tcp_user_timeout'] // 1000} s)" in text
