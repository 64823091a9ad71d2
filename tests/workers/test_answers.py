"""A query's failure is stored as its answer when it is dead-lettered; Valkey down loses the answer with
one line, never a traceback from inside Dramatiq's hooks."""

from __future__ import annotations

from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder
from dramatiq.results.backends.stub import StubBackend
from structlog.testing import capture_logs

from workers.middleware.answers import AnswersBeforeAck


class ValkeyDown(StubBackend):
    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def _dead_lettered_query(backend: StubBackend) -> tuple[StubBroker, AnswersBeforeAck, dramatiq.MessageProxy]:
    answers = AnswersBeforeAck(backend=backend)  # type: ignore[no-untyped-call]
    broker = StubBroker(middleware=[answers])
    actor = dramatiq.actor(actor_name="list_folder", broker=broker, store_results=True)(lambda: None)
    proxy = dramatiq.MessageProxy(actor.message())
    proxy.stuff_exception(RuntimeError("Valkey is down"))
    proxy.fail()  # as Dramatiq marks a message it dead-letters
    return broker, answers, proxy


def test_a_dead_lettered_querys_failure_is_stored_as_its_answer() -> None:
    backend = StubBackend(encoder=JSONEncoder())  # as the workers' results backend: plain JSON
    broker, answers, proxy = _dead_lettered_query(backend)

    answers.after_nack(broker, proxy)

    with pytest.raises(dramatiq.results.ResultFailure, match="Valkey is down"):
        backend.get_result(proxy._message)


def test_an_answer_that_cannot_be_stored_is_one_line_not_an_exception_in_the_hook() -> None:
    broker, answers, proxy = _dead_lettered_query(ValkeyDown(encoder=JSONEncoder()))

    with capture_logs() as logs:
        answers.after_nack(broker, proxy)

    assert [(line["event"], line["message_id"]) for line in logs] == [("answer not stored", proxy.message_id)]
    assert "Connection refused" in logs[0]["error"]


class Broken(StubBackend):
    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        raise RuntimeError("a bug, not Valkey")


def test_anything_else_that_fails_storing_the_answer_keeps_its_traceback() -> None:
    broker, answers, proxy = _dead_lettered_query(Broken(encoder=JSONEncoder()))

    with pytest.raises(RuntimeError, match="a bug"):  # Dramatiq logs it with its traceback
        answers.after_nack(broker, proxy)
