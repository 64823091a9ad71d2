"""How many retries a failure has left: a NotFound and a fault each on a budget of its own."""

from __future__ import annotations

from domain.errors import DocumentNotFound
from workers.contract import InvalidMessage
from workers.middleware.retries import RetryPolicy

POLICY = RetryPolicy(not_found_retries=8, fault_retries=20)
NOT_FOUND = DocumentNotFound("d1")
FAULT = ConnectionError("postgres is down")


def test_each_kind_counts_only_its_own_earlier_retries() -> None:
    assert RetryPolicy.retried_before(12, NOT_FOUND, not_found=2) == 2
    assert RetryPolicy.retried_before(12, FAULT, not_found=2) == 10


def test_without_the_count_every_earlier_retry_counts() -> None:
    assert RetryPolicy.retried_before(12, NOT_FOUND, not_found=None) == 12
    assert RetryPolicy.retried_before(12, FAULT, not_found=None) == 12


def test_the_limits_by_kind() -> None:
    assert POLICY.limit_for(NOT_FOUND) == 8
    assert POLICY.limit_for(FAULT) == 20
    assert POLICY.limit_for(InvalidMessage("upload_document", ["doc_id: is required"])) == 0
    assert POLICY.max_retries == 28
