"""DocfleetClient on the real services: validation before anything is sent, message ids, list_folder."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import Any

import dramatiq
import pytest

from tests.cli.support import bodies, is_member, ready_count
from tests.conftest import IdMaker
from tests.support.processes import free_port
from tests.support.waiting import wait_for
from workers.client import (
    ClientError,
    DocfleetClient,
    InvalidArguments,
    NotSent,
    QueryFailed,
    QueryRefused,
    QueryTimeout,
)
from workers.contract_events import ListFolderResult
from workers.middleware.envelope import Envelope
from workers.settings import Settings

pytestmark = pytest.mark.integration


def test_a_command_goes_to_its_queue_as_the_contract_envelope_with_the_returned_id(
    settings: Settings,
) -> None:
    with DocfleetClient.from_settings(settings) as client:
        message_id = client.add_member(org_id="acme", user_id="alice")

    [sent] = bodies(settings.amqp_url, "documents")
    Envelope.model_validate(sent)
    assert uuid.UUID(message_id)
    assert sent["message_id"] == message_id
    assert (sent["queue_name"], sent["actor_name"]) == ("documents", "add_member")
    assert (sent["args"], sent["kwargs"], sent["options"]) == ([], {"org_id": "acme", "user_id": "alice"}, {})


def test_invalid_arguments_raise_every_problem_and_send_nothing(settings: Settings) -> None:
    with DocfleetClient.from_settings(settings) as client:
        client.add_member(org_id="acme", user_id="alice")
        with pytest.raises(InvalidArguments) as raised:
            client.upload_document(
                doc_id="doc 1",
                org_id="acme",
                folder_id="f",
                owner_id="alice",
                name="report.pdf",
                mime_type="application/pdf; charset=x",
                blob_uri="file:///etc/passwd",
            )

    problems = raised.value.problems
    assert [problem.split(":")[0] for problem in problems] == ["doc_id", "mime_type", "blob_uri"]
    assert ready_count(settings.amqp_url, "documents") == 1


def test_a_given_message_id_is_kept_and_a_malformed_one_refused(settings: Settings) -> None:
    with DocfleetClient.from_settings(settings) as client:
        kept = client.revoke_access(
            doc_id="doc-1", revoked_by="alice", user_id="bob", message_id="retry-me-1"
        )
        with pytest.raises(InvalidArguments, match="message_id"):
            client.add_member(org_id="acme", user_id="alice", message_id="not an id")

    assert kept == "retry-me-1"
    assert [body["message_id"] for body in bodies(settings.amqp_url, "documents")] == ["retry-me-1"]


def test_sends_from_many_threads_each_arrive_once(settings: Settings) -> None:
    sent: list[str] = []
    with DocfleetClient.from_settings(settings) as client:

        def send_some(thread: int) -> None:
            for n in range(25):
                sent.append(client.add_member(org_id="acme", user_id=f"user-{thread}-{n}"))

        threads = [threading.Thread(target=send_some, args=(thread,)) for thread in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert len(set(sent)) == 100
    assert sorted(body["message_id"] for body in bodies(settings.amqp_url, "documents")) == sorted(sent)


def test_list_folder_answers_with_the_page_a_member_may_see(
    settings: Settings, worker: None, new_id: IdMaker
) -> None:
    org, folder, doc = new_id("org"), new_id("folder"), new_id("doc")
    with DocfleetClient.from_settings(settings) as client:
        for user in ("alice", "mallory-outsider"):
            client.add_member(org_id=org if user == "alice" else new_id("other"), user_id=user)
        wait_for(lambda: is_member(settings.database_url, org, "alice"), what="alice's membership")
        client.create_folder(folder_id=folder, org_id=org, name="Reports", created_by="alice")
        client.upload_document(**_document(doc, org, folder), tags=["q3"])
        page = wait_for(lambda: _page_with(client, folder, doc), what="the uploaded document listed")
        with pytest.raises(QueryRefused) as refused:
            client.list_folder(folder_id=folder, requested_by="mallory-outsider")

    assert [(d.id, d.name, d.tags, d.version) for d in page.documents] == [(doc, "Q3 report.pdf", ["q3"], 1)]
    assert page.next_cursor is None
    assert refused.value.reason == "not_a_member"


def test_list_folder_without_a_worker_times_out(settings: Settings) -> None:
    with DocfleetClient.from_settings(settings) as client, pytest.raises(QueryTimeout, match="within 1 s"):
        client.list_folder(folder_id="f", requested_by="alice", timeout=1.0)


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan"), float("inf")])
def test_a_timeout_list_folder_cannot_wait_is_refused_before_the_query_is_sent(
    settings: Settings, timeout: float
) -> None:
    with DocfleetClient.from_settings(settings) as client, pytest.raises(ClientError, match="timeout"):
        client.list_folder(folder_id="f", requested_by="alice", timeout=timeout)
    assert ready_count(settings.amqp_url, "documents-queries") in (0, None)


@pytest.mark.parametrize("socket_timeout", [2.0, 1.0])  # 1 s leaves no room for a blocking read
def test_a_wait_longer_than_valkeys_socket_timeout_ends_as_a_timeout(
    settings: Settings, socket_timeout: float
) -> None:
    from workers.client.results import results_backend, wait_for_page

    backend = results_backend(settings.valkey_url, settings.cache_prefix, socket_timeout=socket_timeout)

    with pytest.raises(QueryTimeout, match="within 3 s"):  # not a QueryFailed after the socket's 2 s
        wait_for_page(backend, f"never-answered-{uuid.uuid4()}", timeout=3.0)


def test_an_answer_later_than_valkeys_socket_timeout_is_returned(settings: Settings) -> None:
    from workers.broker import results_backend_for
    from workers.client.results import results_backend, wait_for_page

    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents-queries", actor_name="list_folder", args=(), kwargs={}, options={}
    )
    backend = results_backend(settings.valkey_url, settings.cache_prefix, socket_timeout=2.0)
    answer = {"documents": [], "next_cursor": "after-the-socket-timeout"}
    late = threading.Timer(2.5, results_backend_for(settings).store_result, (message, answer, 10_000))
    late.start()
    try:
        page = wait_for_page(backend, message.message_id, timeout=6.0)
    finally:
        late.join()
        backend.client.delete(backend.build_message_key(message))

    assert page.next_cursor == "after-the-socket-timeout"


@pytest.mark.parametrize("failed", [False, True])
def test_an_answer_read_is_deleted_from_valkey(settings: Settings, failed: bool) -> None:
    """A page can be tens of MB: once read, it must not stay for the whole RESULT_TTL_MS."""
    from workers.broker import results_backend_for
    from workers.client.results import results_backend, wait_for_page

    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents-queries", actor_name="list_folder", args=(), kwargs={}, options={}
    )
    workers = results_backend_for(settings)
    if failed:
        workers.store_exception(message, RuntimeError("a fault (test)"), 60_000)
    else:
        workers.store_result(message, {"documents": [], "next_cursor": None}, 60_000)
    backend = results_backend(settings.valkey_url, settings.cache_prefix)
    key = backend.build_message_key(message)
    assert backend.client.exists(key) == 1

    if failed:
        with pytest.raises(QueryFailed, match="a fault"):
            wait_for_page(backend, message.message_id, timeout=5.0)
    else:
        assert wait_for_page(backend, message.message_id, timeout=5.0).documents == []

    assert backend.client.exists(key) == 0


def test_list_folder_with_valkey_unreachable_fails_as_a_client_error_and_sends_nothing(
    settings: Settings,
) -> None:
    """A worker would run the query for an answer nobody can read: Valkey is checked before it is sent."""
    port = free_port()
    unreachable = dataclasses.replace(settings, valkey_url=f"redis://:secret@127.0.0.1:{port}/0")
    with DocfleetClient.from_settings(unreachable) as client, pytest.raises(QueryFailed) as raised:
        client.list_folder(folder_id="f", requested_by="alice", timeout=1.0)

    told = str(raised.value)
    assert told.startswith(
        f"list_folder not sent: its answer could not be read from Valkey at 127.0.0.1:{port}/0: "
    )
    assert "secret" not in told
    assert ready_count(settings.amqp_url, "documents-queries") in (0, None)


def test_an_unusable_rabbitmq_url_fails_as_a_client_error_without_its_password() -> None:
    with (
        DocfleetClient("amqp://guest:secret@127.0.0.1:99999/%2F") as client,
        pytest.raises(NotSent) as raised,
    ):
        client.add_member(org_id="acme", user_id="alice")
    assert "127.0.0.1:99999" in str(raised.value)
    assert "secret" not in str(raised.value)


def test_the_client_waits_on_the_key_the_workers_store_results_under(settings: Settings) -> None:
    from workers.broker import results_backend_for
    from workers.client.results import results_backend

    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="documents-queries", actor_name="list_folder", args=(), kwargs={}, options={}
    )
    other = dataclasses.replace(settings, cache_prefix="elsewhere:")
    theirs, ours = results_backend_for(settings), results_backend(settings.valkey_url, settings.cache_prefix)

    assert ours.build_message_key(message) == theirs.build_message_key(message)
    assert ours.build_message_key(message) != results_backend_for(other).build_message_key(message)


def _document(doc: str, org: str, folder: str) -> dict[str, Any]:
    return {
        "doc_id": doc,
        "org_id": org,
        "folder_id": folder,
        "owner_id": "alice",
        "name": "Q3 report.pdf",
        "mime_type": "application/pdf",
        "blob_uri": f"s3://bucket/{doc}.pdf",
    }


def _page_with(client: DocfleetClient, folder: str, doc: str) -> ListFolderResult | None:
    try:
        page = client.list_folder(folder_id=folder, requested_by="alice", timeout=5.0)
    except QueryRefused:
        return None
    return page if any(document.id == doc for document in page.documents) else None


@pytest.mark.parametrize("tags", ["q3", None])
def test_tags_that_are_not_a_list_of_strings_are_refused_not_split(tags: Any) -> None:
    with (
        DocfleetClient("amqp://guest:guest@127.0.0.1:1/%2F") as client,
        pytest.raises(InvalidArguments) as raised,
    ):
        client.upload_document(**_document("doc-1", "acme", "f-1"), tags=tags)
    assert "tags: input should be a valid list" in str(raised.value)


@pytest.mark.parametrize(
    "url",
    ["not a url", "http://127.0.0.1:5672/", "amqp://127.0.0.1:99999/", "amqp://guest:12345#x@rabbit/%2F"],
)
def test_an_unusable_amqp_url_is_a_client_error_before_anything_is_sent(url: str) -> None:
    with DocfleetClient(url) as client, pytest.raises(NotSent, match="unusable URL") as raised:
        client.add_member(org_id="acme", user_id="alice")
    assert "12345" not in str(raised.value)  # a password cut short by its # reads as a port


def test_an_unusable_valkey_url_fails_list_folder_before_the_query_is_sent(settings: Settings) -> None:
    with (
        DocfleetClient(settings.amqp_url, valkey_url="http://valkey:6379") as client,
        pytest.raises(ClientError, match="unusable Valkey URL"),
    ):
        client.list_folder(folder_id="f", requested_by="alice")
    assert ready_count(settings.amqp_url, "documents-queries") in (0, None)
