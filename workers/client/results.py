"""Waiting in Valkey for the answer to a list_folder message, where the Results middleware puts it; the
answer is deleted once read (docs/contract.md §5)."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import dramatiq
from dramatiq.encoder import JSONEncoder
from dramatiq.results import ResultFailure, ResultTimeout
from dramatiq.results.backends.redis import RedisBackend
from pydantic import ValidationError
from valkey.exceptions import ValkeyError

from adapters.valkey.client import single_client
from workers.client.errors import QueryFailed, QueryRefused, QueryTimeout
from workers.contract import QUERIES_QUEUE
from workers.contract_events import ListFolderResult
from workers.service_urls import location

VALKEY_PORT = 6379  # what the client connects to when the URL names no port
SOCKET_TIMEOUT_SECONDS = 5.0  # how long a reply from Valkey is awaited before the server counts as lost


def results_backend(
    valkey_url: str, cache_prefix: str, *, socket_timeout: float = SOCKET_TIMEOUT_SECONDS
) -> RedisBackend:
    """The backend the workers store results with (``workers.broker.results_backend_for``): the same keys,
    ``<cache_prefix>results:<queue>:<actor>:<message_id>``; a test holds the two to the same key."""
    client = single_client(valkey_url, timeout=socket_timeout)
    return RedisBackend(  # type: ignore[no-untyped-call]
        client=client,
        namespace=f"{cache_prefix}results",
        encoder=JSONEncoder(),
        use_namespace_prefix_keys=True,
    )


def check_reachable(backend: RedisBackend, valkey_url: str) -> None:
    """One PING on the connection the answer will be read on; ``QueryFailed`` when Valkey does not answer,
    as the read would fail, so that a query is not sent (and run by a worker) for an answer nobody reads."""
    try:
        backend.client.ping()
    except ValkeyError as error:
        raise QueryFailed(
            f"list_folder not sent: its answer could not be read from Valkey at "
            f"{location(valkey_url, default_port=VALKEY_PORT)}: {error}"
        ) from None


def wait_for_page(backend: RedisBackend, message_id: str, timeout: float) -> ListFolderResult:
    """The page answering the list_folder message ``message_id``; raises ``QueryRefused`` for a refusal,
    ``QueryTimeout`` when no answer came within ``timeout`` seconds, ``QueryFailed`` for a failure."""
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=QUERIES_QUEUE,
        actor_name="list_folder",
        args=(),
        kwargs={},
        options={},
        message_id=message_id,
    )
    try:
        answer = _wait_in_slices(backend, message, timeout)
    except ResultTimeout:
        raise QueryTimeout(
            f"no answer to list_folder {message_id} within {timeout:g} s: is a worker running? If one is,"
            " the query may have failed (the workers' Valkey away, say): docfleet dlq ls --queue"
            " documents-queries"
        ) from None
    except ResultFailure as failure:
        _forget(backend, message)
        raise QueryFailed(f"list_folder {message_id} failed in the worker: {failure}") from None
    except ValkeyError as error:  # sent, but its answer cannot be read
        raise QueryFailed(
            f"the answer to list_folder {message_id} could not be read from Valkey: {error}"
        ) from None
    _forget(backend, message)
    try:
        page = ListFolderResult.model_validate(answer)
    except ValidationError as error:
        problems = f"{error.error_count()} fields differ from the contract"
        raise QueryFailed(f"the answer to list_folder {message_id} is not a page: {problems}") from None
    if page.error is not None:
        raise QueryRefused(page.error.reason, page.error.detail)
    return page


def _forget(backend: RedisBackend, message: dramatiq.Message[Any]) -> None:
    """Deletes the answer once read, as docs/contract.md §5 asks of every reader: nobody reads it twice,
    and a page of 1,000 documents can be tens of MB, which would otherwise stay in Valkey for the whole
    RESULT_TTL_MS. If Valkey fails the delete, the answer read still stands, and its TTL removes it."""
    with contextlib.suppress(ValkeyError):
        backend.client.delete(backend.build_message_key(message))


POLL_INTERVAL_S = 0.1  # between reads when the socket's timeout leaves no room for a blocking one


def _wait_in_slices(backend: RedisBackend, message: dramatiq.Message[Any], seconds: float) -> Any:
    """The answer, waited for in blocking reads of whole seconds (the backend's unit), each at least a
    second shorter than the socket's timeout, so that a long wait is never taken for a lost server; the
    last fraction of a second, or all of it with a socket timeout under 2 s, in reads that do not block,
    0.1 s apart. Raises ``ResultTimeout`` once ``seconds`` have passed without one."""
    socket_timeout = backend.client.connection_pool.connection_kwargs.get("socket_timeout")
    longest = math.floor(socket_timeout) - 1 if socket_timeout else math.inf
    deadline = time.monotonic() + seconds
    while True:
        wait = min(longest, math.floor(deadline - time.monotonic())) if longest >= 1 else 0
        try:  # a wait of 0 reads without blocking
            return backend.get_result(message, block=True, timeout=max(wait, 0) * 1000)  # type: ignore[no-untyped-call]
        except ResultTimeout:
            if time.monotonic() >= deadline:
                raise
            if wait < 1:
                time.sleep(POLL_INTERVAL_S)
