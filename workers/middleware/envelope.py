"""The Dramatiq envelope: its JSON encoder (never pickle), strict about the envelope, and the size limit.

A body that is not a well-formed envelope cannot be tied to a message id, so it is dead-lettered by the
consumer with one log line and no event. An envelope that is well formed but larger than the limit is
marked here and dead-lettered by ``SizeLimit`` as an invalid message, with its CommandRejected.
"""

from __future__ import annotations

import re
import threading
from typing import Annotated, Any, Literal, Self

import dramatiq
from dramatiq.encoder import JSONEncoder, MessageData
from dramatiq.errors import DecodeError
from dramatiq.middleware import Middleware, SkipMessage
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from workers.contract import MAX_MESSAGE_BYTES, InvalidMessage, ids_in
from workers.contract_fields import ACTOR_NAME_PATTERN, Id, is_id
from workers.contract_json import EXACT_FLOAT_INTEGERS, load_json
from workers.contract_problems import cap, problems_of
from workers.middleware.outcomes import Outcomes

_ACTOR_NAME = re.compile(ACTOR_NAME_PATTERN)
OVERSIZE_OPTION = "docfleet_oversize_bytes"
READ_LIMIT_BYTES = 4 * MAX_MESSAGE_BYTES
"""A body over the limit up to this size is read, to record its rejection under its message id; a larger
one is not even parsed (RabbitMQ lets a body be 128 MiB by default): it is dead-lettered as unreadable."""
MAX_FIELDS = 32  # the envelope, its options and any actor's kwargs have fewer than a dozen
MAX_ARGUMENT_VALUES = 1_000  # a command holds at most a few dozen: 50 tags and its ids
COUNTED_FROM_BYTES = 16 * 1024
_OBJECTS = ("options", "kwargs")
QueueName = Literal["documents", "documents-queries", "documents.DQ", "documents-queries.DQ"]


# What a double holds exactly, as any JSON reader does: a larger count or timestamp is no real one, and
# one of thousands of digits could not even be written in a log line.
Count = Annotated[int, Field(ge=0, le=EXACT_FLOAT_INTEGERS)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", hide_input_in_errors=True)


class Options(_Strict):
    """Dramatiq's bookkeeping on the copies it re-enqueues for a retry, and docfleet's count of those
    retries that followed a not-found; a producer sends {}."""

    retries: Count = 0
    docfleet_not_found_retries: Count = 0
    traceback: str = ""
    requeue_timestamp: Count = 0
    eta: Count = 0

    @model_validator(mode="after")
    def _not_found_among_the_retries(self) -> Self:
        """A fault's budget is the retries that did not follow a not-found: a larger count, which only a
        producer could send, would let a fault be retried without end."""
        if self.docfleet_not_found_retries > self.retries:
            raise ValueError("docfleet_not_found_retries must not exceed retries")
        return self


class Envelope(_Strict):
    """A Dramatiq message as it travels on RabbitMQ: one UTF-8 JSON object with exactly these fields."""

    queue_name: Annotated[QueueName, Field(description="The queue it is published to (.DQ: retries only).")]
    actor_name: Annotated[str, StringConstraints(pattern=ACTOR_NAME_PATTERN)]
    args: Annotated[
        list[Any],
        # In the schema only: the workers read a non-empty args as an invalid command, with its rejection.
        Field(
            description="Always []: positional arguments make a message invalid.",
            json_schema_extra={"maxItems": 0},
        ),
    ]
    kwargs: Annotated[dict[str, Any], Field(description="The actor's arguments: schemas/commands/.")]
    options: Options
    message_id: Annotated[Id, Field(description="Unique per message (a UUID): the idempotency key.")]
    message_timestamp: Annotated[
        int,
        Field(
            ge=0,
            le=EXACT_FLOAT_INTEGERS,
            description=(
                "When it was first sent: the producer's clock, in ms since 1970 (UTC). A list_folder"
                " query older than RESULT_TTL_MS by the worker's clock is not run."
            ),
        ),
    ]


class UnreadableMessage(DecodeError):
    """A body that is not a docfleet envelope; ``message_id`` is set when one could still be read."""

    def __init__(
        self,
        problems: list[str],
        message_id: str | None = None,
        actor: str | None = None,
        ids: dict[str, str] | None = None,
    ) -> None:
        super().__init__("; ".join(problems), b"", None)  # type: ignore[no-untyped-call]
        self.problems = problems
        self.message_id = message_id
        self.actor = actor
        self.ids = ids or {}  # the well-formed ids among its arguments


class EnvelopeEncoder(JSONEncoder):
    """Dramatiq's JSON encoding; decoding rejects anything but a well-formed envelope, and marks one whose
    body exceeds ``MAX_MESSAGE_BYTES`` for ``SizeLimit``.

    The consumer decodes each delivery twice, once to screen it (``screen``) and once in Dramatiq, right
    after, in the same thread: the second decode of the same body is served from a per-thread memo.
    """

    def __init__(self) -> None:
        self._last = threading.local()

    def decode(self, data: bytes) -> MessageData:
        last_body, last_fields = getattr(self._last, "decoded", (None, None))
        if last_body is data and last_fields is not None:
            self._last.decoded = (None, None)
            return {**last_fields, "options": dict(last_fields["options"])}
        fields = self._decoded(data)
        self._last.decoded = (data, fields)
        return fields

    def _decoded(self, data: bytes) -> MessageData:
        if len(data) > READ_LIMIT_BYTES:
            problem = (
                f"body: is {len(data)} bytes, too large to be read (a message may be"
                f" {MAX_MESSAGE_BYTES} bytes; over {READ_LIMIT_BYTES} it is not read at all)"
            )
            raise UnreadableMessage([problem])
        fields = _json_object(data)
        try:
            _refuse_crowds(fields, len(data))
            Envelope.model_validate(fields)
        except (ValidationError, _Crowded) as error:
            if isinstance(error, _Crowded):
                problems = error.problems
            else:
                problems = problems_of(error, of="the envelope")
                if len(data) > MAX_MESSAGE_BYTES:  # told first, as a crowded body's is
                    problems = [_over_the_limit(len(data)), *problems]
            message_id = fields.get("message_id") if is_id(fields.get("message_id")) else None
            actor = fields.get("actor_name") if _is_actor_name(fields.get("actor_name")) else None
            raise UnreadableMessage(cap(problems), message_id, actor, ids_in(fields.get("kwargs"))) from None
        if len(data) > MAX_MESSAGE_BYTES:
            fields["options"] = {**fields["options"], OVERSIZE_OPTION: len(data)}
        return fields


class _Crowded(ValueError):
    """An object with far more fields, or arguments with far more values, than any message has: told as
    one problem (after the body's size, if that is over the limit too), not one a field."""

    def __init__(self, problem: str, size: int) -> None:
        self.problems = [_over_the_limit(size), problem] if size > MAX_MESSAGE_BYTES else [problem]
        super().__init__("; ".join(self.problems))


def _refuse_crowds(fields: dict[str, Any], size: int) -> None:
    """Validating an object whose unknown fields number in the thousands costs a problem each, built and
    then cut to ``MAX_PROBLEMS``: seconds of the consumer's thread for one body of the limit's size. And
    arguments of thousands of small values (``[{}, {}, ...]``) take 25 times their size once decoded, held
    so until the message runs; only a large body can hold that many, so only one is counted."""
    for where, value in (("the envelope", fields), *((name, fields.get(name)) for name in _OBJECTS)):
        if isinstance(value, dict) and len(value) > MAX_FIELDS:
            problem = f"{where}: has {len(value)} fields, more than any message has (at most {MAX_FIELDS})"
            raise _Crowded(problem, size)
    if size <= COUNTED_FROM_BYTES:
        return
    for where in ("args", "kwargs"):
        if _values_beyond(fields.get(where), MAX_ARGUMENT_VALUES):
            problem = f"{where}: holds more than {MAX_ARGUMENT_VALUES} values, more than any command has"
            raise _Crowded(problem, size)


def _values_beyond(value: Any, limit: int) -> bool:
    """Whether ``value`` holds more than ``limit`` JSON values, itself included; stops counting there."""
    pending, seen = [value], 0
    while pending:
        current = pending.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(current, dict):
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return False


def _is_actor_name(value: object) -> bool:
    """Whether ``value`` may name an actor, and so a rejection's routing key ``command.rejected.<actor>``."""
    return isinstance(value, str) and _ACTOR_NAME.fullmatch(value) is not None


_UTF8_BOM = b"\xef\xbb\xbf"
_BOM_PROBLEM = "body: is not JSON: it starts with a byte order mark (EF BB BF); send the JSON without one"


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        fields = load_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UnreadableMessage(["body: is not UTF-8 text"]) from None
    except (ValueError, RecursionError) as error:
        if data.startswith(_UTF8_BOM):
            raise UnreadableMessage([_BOM_PROBLEM]) from None
        raise UnreadableMessage([f"body: is not JSON ({str(error)[:120]})"]) from None
    if not isinstance(fields, dict):
        raise UnreadableMessage(["body: must be a JSON object, the Dramatiq envelope"])
    return fields


def oversize_problem(options: dict[str, Any]) -> str | None:
    """What is wrong with a message whose decoded ``options`` carry the mark of a body over the limit."""
    size = options.get(OVERSIZE_OPTION)
    return None if size is None else _over_the_limit(size)


def _over_the_limit(size: int) -> str:
    return f"message: the body is {size} bytes, over the limit of {MAX_MESSAGE_BYTES} bytes"


class SkippedAsInvalid(SkipMessage):
    """A message skipped before its actor ran, for what would have made the actor raise ``invalid``: a
    query's failure is stored as that ``InvalidMessage``, as an invalid query's is (``AnswersBeforeAck``)."""

    def __init__(self, invalid: InvalidMessage) -> None:
        super().__init__(str(invalid))
        self.invalid = invalid


class SizeLimit(Middleware):
    """Dead-letters, as an invalid message, an envelope whose body was larger than the limit."""

    def __init__(self, outcomes: Outcomes) -> None:
        self._outcomes = outcomes

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        problem = oversize_problem(message.options)
        if problem is None:
            return
        self._outcomes.invalid(message, [problem])
        message.fail()
        raise SkippedAsInvalid(InvalidMessage(message.actor_name, [problem]))
