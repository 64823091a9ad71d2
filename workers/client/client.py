"""``DocfleetClient``: one typed method per docfleet command, and ``list_folder`` with its answer.

Each method validates its arguments with the workers' own pydantic models (``workers.contract``) before
anything is sent, publishes with a publisher confirm, and returns the message id. Producers in other
languages follow docs/contract.md instead.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self

from adapters.rabbitmq.queue_publisher import OutgoingMessage, PublishError, QueuePublisher, Undelivered
from workers.client.envelopes import contract_queues, prepare
from workers.client.errors import ClientError, NotSent
from workers.client.results import check_reachable, results_backend, wait_for_page
from workers.contract import QUERIES
from workers.contract_events import ListFolderResult
from workers.service_urls import check_amqp_url, check_valkey_url, location
from workers.settings import Settings

Role = Literal["viewer", "editor", "owner"]
QUERY_ADVICE = "the query may have been taken all the same: ask again (a query is not deduplicated)"


AMQP_PORT = 5672  # what pika connects to when the URL names no port


class DocfleetClient:
    """Thread-safe: sends from several threads take turns on one RabbitMQ connection, opened on the first
    send (and again after it is lost); waiting for a list_folder answer does not hold the others up.

    ``message_id`` (every command's method): the idempotency key, a new UUID by default. Sending again with
    the same id, e.g. after a ``NotSent`` for a lost connection, is safe: the copy is a duplicate, applied
    once. A different command under an id already used is not run: it is rejected as
    ``message_id_reused`` and dead-lettered (docs/contract.md §7). A query always gets a new one: its
    answer is kept under its id, so a query sent with an id already used would be given the earlier
    query's answer.
    """

    def __init__(
        self,
        amqp_url: str,
        *,
        valkey_url: str | None = None,
        cache_prefix: str = "docfleet:",
        confirm_timeout: float = 30.0,
        name: str = "docfleet-client",
    ) -> None:
        self._amqp_url = amqp_url
        self._valkey_url = valkey_url
        self._cache_prefix = cache_prefix
        self._confirm_timeout = confirm_timeout
        self._name = name
        self._lock = threading.Lock()
        self._publisher: QueuePublisher | None = None
        self._backend: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> DocfleetClient:
        """A client for the services the workers use (``Settings.from_env()``: the same variables)."""
        return cls(
            settings.amqp_url, valkey_url=settings.valkey_url, cache_prefix=settings.cache_prefix, **options
        )

    def add_member(self, *, org_id: str, user_id: str, message_id: str | None = None) -> str:
        return self.send("add_member", {"org_id": org_id, "user_id": user_id}, message_id=message_id)

    def create_folder(
        self,
        *,
        folder_id: str,
        org_id: str,
        name: str,
        created_by: str,
        parent_id: str | None = None,
        message_id: str | None = None,
    ) -> str:
        kwargs = {"folder_id": folder_id, "org_id": org_id, "name": name, "parent_id": parent_id}
        return self.send("create_folder", {**kwargs, "created_by": created_by}, message_id=message_id)

    def upload_document(
        self,
        *,
        doc_id: str,
        org_id: str,
        folder_id: str,
        owner_id: str,
        name: str,
        mime_type: str,
        blob_uri: str,
        tags: Sequence[str] = (),
        message_id: str | None = None,
    ) -> str:
        kwargs = {"doc_id": doc_id, "org_id": org_id, "folder_id": folder_id, "owner_id": owner_id}
        kwargs |= {"name": name, "mime_type": mime_type, "blob_uri": blob_uri}
        # a str is a Sequence[str] too: passed as given, the contract refuses it rather than split it
        listed = tags if isinstance(tags, str) or not isinstance(tags, Sequence) else list(tags)
        return self.send("upload_document", {**kwargs, "tags": listed}, message_id=message_id)

    def share_document(
        self, *, doc_id: str, shared_by: str, shared_with: str, role: Role, message_id: str | None = None
    ) -> str:
        kwargs = {"doc_id": doc_id, "shared_by": shared_by, "shared_with": shared_with, "role": role}
        return self.send("share_document", kwargs, message_id=message_id)

    def revoke_access(
        self, *, doc_id: str, revoked_by: str, user_id: str, message_id: str | None = None
    ) -> str:
        kwargs = {"doc_id": doc_id, "revoked_by": revoked_by, "user_id": user_id}
        return self.send("revoke_access", kwargs, message_id=message_id)

    def list_folder(
        self,
        *,
        folder_id: str,
        requested_by: str,
        limit: int = 100,
        cursor: str | None = None,
        timeout: float = 10.0,
    ) -> ListFolderResult:
        """One page of the folder, newest first; ``QueryRefused``, ``QueryTimeout`` or ``QueryFailed`` (also
        before anything is sent, when Valkey, where the answer is read, does not answer a PING)."""
        if not (math.isfinite(timeout) and timeout > 0):
            raise ClientError(f"timeout: a number of seconds above 0, not {timeout!r}")
        if self._valkey_url is None:
            raise ClientError("list_folder waits for its answer in Valkey: give the client a valkey_url")
        kwargs = {"folder_id": folder_id, "requested_by": requested_by, "limit": limit, "cursor": cursor}
        backend = self._results_backend(self._valkey_url)  # before sending: a bad URL sends nothing
        check_reachable(backend, self._valkey_url)  # nor does a Valkey its answer could not be read from
        sent = self.send("list_folder", kwargs)
        return wait_for_page(backend, sent, timeout)

    def _results_backend(self, valkey_url: str) -> Any:
        with self._lock:
            if self._backend is None:
                try:
                    check_valkey_url(valkey_url)
                except ValueError as error:
                    raise ClientError(f"unusable Valkey URL: {error}") from None
                self._backend = results_backend(valkey_url, self._cache_prefix)
            return self._backend

    def send(self, actor: str, kwargs: Mapping[str, Any], *, message_id: str | None = None) -> str:
        """Any actor by name: validated, sent, confirmed; its message id. ``InvalidArguments`` or
        ``NotSent`` (with the message id, to send again under it) otherwise."""
        message = prepare(actor, kwargs, message_id)
        advice = QUERY_ADVICE if actor in QUERIES else None
        for undelivered in self._publish([message], advice):
            why = f"RabbitMQ did not take message {undelivered.message_id}: {undelivered.why}"
            maybe_taken = undelivered.earlier_copy_possible
            raise NotSent(why, maybe_taken=maybe_taken, message_ids=[message.message_id], advice=advice)
        return message.message_id

    def send_prepared(self, messages: Sequence[OutgoingMessage]) -> list[Undelivered]:
        """Publishes messages made by ``workers.client.prepare`` in one go; those RabbitMQ did not take.

        A lost connection is retried once on a new one, with the same message ids; then ``NotSent``, whose
        ``message_ids`` are those of ``messages``.
        """
        return self._publish(messages, None)

    def _publish(self, messages: Sequence[OutgoingMessage], advice: str | None) -> list[Undelivered]:
        ids = [message.message_id for message in messages]
        with self._lock:
            handed_over = False  # to a connected publisher: from then on, RabbitMQ may have taken them
            failure: PublishError | None = None
            for _attempt in range(2):
                earlier_copies = handed_over
                try:
                    publisher = self._connected(ids)
                    handed_over = True
                    return _refused(publisher.publish(messages), earlier_copies)
                except PublishError as error:
                    self._drop_publisher()
                    failure = error
            reason = f"{self._rabbitmq()}: {failure}"
            raise NotSent(reason, maybe_taken=handed_over, message_ids=ids, advice=advice)

    def close(self) -> None:
        with self._lock:
            self._drop_publisher()
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connected(self, message_ids: Sequence[str]) -> QueuePublisher:
        if self._publisher is None:
            try:
                check_amqp_url(self._amqp_url)
            except ValueError as error:
                reason = f"{self._rabbitmq()}: unusable URL: {error}"
                raise NotSent(reason, maybe_taken=False, message_ids=message_ids) from None
            self._publisher = QueuePublisher(
                self._amqp_url, declare=contract_queues(), timeout=self._confirm_timeout, name=self._name
            )
        return self._publisher

    def _rabbitmq(self) -> str:
        return f"RabbitMQ at {location(self._amqp_url, default_port=AMQP_PORT)}"

    def _drop_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.close()


def _refused(undelivered: list[Undelivered], earlier_copies: bool) -> list[Undelivered]:
    """What RabbitMQ refused; after a lost connection, the first may have taken copies of those."""
    if not earlier_copies:
        return undelivered
    note = "; sent first on a connection since lost, which may have taken a copy"
    return [dataclasses.replace(u, why=u.why + note, earlier_copy_possible=True) for u in undelivered]
