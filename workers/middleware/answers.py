"""Query answers stored before the message is acked, so that an answer that cannot be stored is a failure.

Dramatiq's Results middleware stores an actor's return value after the actor returned, where a failure
(Valkey unavailable) is only logged: the message would be acked, logged as answered, and its answer lost.
Here the actor stores the answer itself (``store_answer``), so such a failure is the actor's own: retried
on the query's schedule, then dead-lettered, with a log line saying so.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import dramatiq
import structlog
from dramatiq.results import Results

from adapters.valkey.guard import UNAVAILABLE as VALKEY_UNAVAILABLE
from workers.contract import InvalidMessage, queue_of
from workers.middleware.envelope import SkippedAsInvalid

_processing: ContextVar[tuple[AnswersBeforeAck, dramatiq.Broker] | None] = ContextVar(
    "docfleet_answers_store", default=None
)


class AnswersBeforeAck(Results):
    """Results, except for a successful answer, which ``store_answer`` has stored already. Failures and
    skipped messages are stored as Results stores them, for the producer's ``get_result`` to raise; one
    skipped as invalid (a body over the limit) as the ``InvalidMessage`` an invalid query stores."""

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        _processing.set((self, broker))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        _processing.set(None)

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        skipped = message._exception  # where Dramatiq keeps what failed the message, for Results
        if isinstance(skipped, SkippedAsInvalid):
            message.stuff_exception(skipped.invalid)
        try:  # Results stores the failure as the query's answer, in Valkey, which may be down
            super().after_nack(broker, message)  # type: ignore[no-untyped-call]
        except VALKEY_UNAVAILABLE as error:
            structlog.get_logger("docfleet.worker").error(
                "answer not stored", message_id=message.message_id, error=repr(error)[:300]
            )

    def fail_unreadable(self, actor: str, message_id: str, detail: str) -> str:
        """Stores, for a query the consumer dead-lettered before any worker saw it, the failure an invalid
        query gets, so that its producer is told at once rather than at its own timeout; says whether it
        was stored (``answered``) or not (``failed``: the producer then waits for its timeout)."""
        unread: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=queue_of(actor),
            actor_name=actor,
            args=(),
            kwargs={},
            options={},
            message_id=message_id,
        )
        stored = self.store_failure(unread, InvalidMessage(actor, [detail]), self.result_ttl, Exception)
        return "answered" if stored else "failed"

    def store_failure(
        self,
        message: dramatiq.Message[Any],
        failure: Exception,
        ttl_ms: int,
        unavailable: type[Exception] | tuple[type[Exception], ...] = VALKEY_UNAVAILABLE,
    ) -> bool:
        """Stores ``failure`` as ``message``'s answer; False, with a log line, if ``unavailable`` kept it
        from Valkey."""
        try:
            self.backend.store_exception(message, failure, ttl_ms)
        except unavailable as error:
            structlog.get_logger("docfleet.worker").error(
                "answer not stored", message_id=message.message_id, error=repr(error)[:300]
            )
            return False
        return True

    def store_answer(self, broker: dramatiq.Broker, message: dramatiq.Message[Any], answer: Any) -> None:
        self.backend.store_result(message, answer, self.answer_ttl_ms(broker, message))

    def answer_ttl_ms(self, broker: dramatiq.Broker, message: dramatiq.Message[Any]) -> int:
        """How long the answer to ``message`` is kept: ``RESULT_TTL_MS`` unless its actor says otherwise."""
        actor = broker.get_actor(message.actor_name)
        ttl: int = message.options.get("result_ttl", actor.options.get("result_ttl", self.result_ttl))
        return ttl


class QueryExpired(Exception):
    """The failure stored for a query taken up after its answer's time to live: it was not run."""


def abandoned(message: dramatiq.Message[Any], now_ms: int) -> str | None:
    """Why the query this thread is processing has no reader left, or None: it was sent (its
    ``message_timestamp``) longer ago than its answer would be kept, so whoever sent it gave up waiting.
    One stamped as far in the future is not run either: no clock in step wrote that, and its age could
    never tell it expired."""
    middleware, broker = _current()
    age_ms, ttl_ms = now_ms - message.message_timestamp, middleware.answer_ttl_ms(broker, message)
    if -ttl_ms <= age_ms <= ttl_ms:
        return None
    kept = f"its answer is kept ({ttl_ms / 1000:g} s, RESULT_TTL_MS): not run"
    if age_ms > 0:
        why = f"{message.actor_name} sent {age_ms / 1000:.1f} s ago, longer than {kept}"
    else:
        why = f"{message.actor_name} stamped {-age_ms / 1000:.1f} s in the future, further than {kept}"
    if message.message_timestamp < _MILLISECONDS_SINCE_1973:
        why += "; its message_timestamp looks like seconds: it is milliseconds since 1970"
    elif message.message_timestamp >= _MILLISECONDS_TO_5138:
        why += "; its message_timestamp looks like microseconds: it is milliseconds since 1970"
    return why


_MILLISECONDS_SINCE_1973 = 100_000_000_000  # as seconds, the year 5138
_MILLISECONDS_TO_5138 = 100_000_000_000_000  # as microseconds, 1973


def fail_abandoned(message: dramatiq.Message[Any], why: str) -> str:
    """Stores ``QueryExpired`` as the answer of an abandoned query, for a reader that waits longer than
    the answer is kept; says whether it was stored (``stored``) or not (``failed``: Valkey unavailable).
    Either way the query is not run and not retried: nobody is expected to read its answer."""
    middleware, broker = _current()
    ttl_ms = middleware.answer_ttl_ms(broker, message)
    return "stored" if middleware.store_failure(message, QueryExpired(why), ttl_ms) else "failed"


def store_answer(message: dramatiq.Message[Any], answer: Any) -> None:
    """Stores ``answer`` as the result of the message this thread is processing, on the broker that
    delivered it; raises if the results backend cannot take it."""
    middleware, broker = _current()
    middleware.store_answer(broker, message, answer)


def _current() -> tuple[AnswersBeforeAck, dramatiq.Broker]:
    processing = _processing.get()
    if processing is None:
        raise RuntimeError("no message in process on a broker with AnswersBeforeAck")
    return processing
