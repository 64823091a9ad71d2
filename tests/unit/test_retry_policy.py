"""How many retries a failure has left: a NotFound and a fault each on a budget of its own."""

from __future__ import annotations

from contextvars import copy_context

from domain.errors import DocumentNotFound
from workers.contract import InvalidMessage
from workers.contract_json import EXACT_FLOAT_INTEGERS
from workers.middleware.retries import RetryPolicy, _not_found_before

POLICY = RetryPolicy(not_found_retries=8, fault_retries=20)
NOT_FOUND = DocumentNotFound("d1")
FAULT = ConnectionError("postgres is down")


def test_each_kind_counts_only_its_own_earlier_retries() -> None:
    assert RetryPolicy.retried_before(12, NOT_FOUND, not_found=2) == 2
    assert RetryPolicy.retried_before(12, FAULT, not_found=2) == 10


def test_without_the_count_every_earlier_retry_counts() -> None:
    assert RetryPolicy.retried_before(12, NOT_FOUND, not_found=None) == 12
    assert RetryPolicy.retried_before(12, FAULT, not_found=None) == 12


def test_no_retry_would_carry_a_count_past_what_an_envelope_may_hold() -> None:
    """A producer may send ``retries`` up to 2**53; its copy must stay readable (contract §1)."""

    def asked(retries: int) -> bool:
        _not_found_before.set(0)  # as CountNotFound sets it: no earlier NotFound, so one is left
        return POLICY(retries, NOT_FOUND)

    assert copy_context().run(asked, EXACT_FLOAT_INTEGERS - 1)
    assert not copy_context().run(asked, EXACT_FLOAT_INTEGERS)


def test_the_limits_by_kind() -> None:
    assert POLICY.limit_for(NOT_FOUND) == 8
    assert POLICY.limit_for(FAULT) == 20
    assert POLICY.limit_for(InvalidMessage("upload_document", ["doc_id: is required"])) == 0
    assert POLICY.max_retries == 28
