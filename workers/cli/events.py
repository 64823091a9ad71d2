"""``docfleet events tail``: the events published on doc.events, one line each."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from adapters.rabbitmq.subscription import TAP_BACKLOG, EventSubscription, ReceivedEvent
from workers.cli.failures import load_settings
from workers.cli.output import command_group, printable
from workers.cli.routing_patterns import PATTERN_SYNTAX, could_match
from workers.stopping import SignalStop, stopped_by

MAX_ROUTING_KEY_BYTES = 255  # a binding key is an AMQP short string

events_app = command_group("Watch the events docfleet publishes on the doc.events exchange.")


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")


def _binding_keys(patterns: list[str] | None) -> list[str] | None:
    for pattern in patterns or []:
        try:
            encoded = pattern.encode()
        except UnicodeEncodeError:  # bytes of the command line that are not UTF-8
            raise typer.BadParameter(f"not UTF-8 text: {pattern[:40]!r}") from None
        if len(encoded) > MAX_ROUTING_KEY_BYTES:
            raise typer.BadParameter(
                f"at most {MAX_ROUTING_KEY_BYTES} bytes, as AMQP allows: {pattern[:40]!r}..."
            )
        if not PATTERN_SYNTAX.fullmatch(pattern):
            raise typer.BadParameter(
                f"{pattern[:40]!r} is not a routing-key pattern: words of letters, digits and _,"
                " or * (one word) or # (any words), joined by dots, e.g. document.shared.*"
            )
        if not could_match(pattern):
            raise typer.BadParameter(
                f"{pattern!r} matches no routing key docfleet sends (docs/contract.md lists them),"
                " e.g. document.#, document.shared.*, command.rejected.*, or # for all"
            )
    return patterns


_STOP_CHECK_S = 0.25  # how soon a stop signal is acted on
_DROP_CHECK_S = 1.0  # how often RabbitMQ is asked whether it dropped events of the tail's
DROPPED = (
    f"docfleet events tail: events were dropped, as this tail fell more than {TAP_BACKLOG:,} behind"
    " (RabbitMQ keeps the newest): a gap follows the events already on their way here"
)


@events_app.command("tail", short_help="Print the events published from now on.")
def tail(
    pattern: Annotated[
        list[str] | None,
        typer.Option(
            "--pattern",
            "-p",
            metavar="PATTERN",
            callback=_binding_keys,
            help="Routing-key pattern, repeatable [default: #]",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print each event's JSON body as it came.")] = False,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
) -> None:
    """Print the events published on doc.events from now on, one line each, until Ctrl-C, SIGTERM or SIGHUP.

    \b
    Examples:
      docfleet events tail
      docfleet events tail --pattern 'document.#' --json
    """
    with (
        stopped_by() as stop,  # SIGTERM, SIGINT or SIGHUP end it as Ctrl-C does: exit 0, nothing lost
        EventSubscription(load_settings().amqp_url, pattern or ["#"], name="docfleet-tail") as tap,
    ):
        _follow(tap, stop, count, as_json)


def _follow(tap: EventSubscription, stop: SignalStop, count: int | None, as_json: bool) -> None:
    """Prints each event as it comes, and on stderr, once a second at most, that RabbitMQ dropped some."""
    seen, next_drop_check = 0, time.monotonic() + _DROP_CHECK_S
    while not stop.is_set() and (count is None or seen < count):
        event = tap.next_event(_STOP_CHECK_S)
        if event is not None:
            typer.echo(json_line(event) if as_json else one_line(event))
            seen += 1
        if time.monotonic() >= next_drop_check:
            next_drop_check = time.monotonic() + _DROP_CHECK_S
            if tap.events_dropped():
                typer.echo(DROPPED, err=True)


def json_line(event: ReceivedEvent) -> str:
    """The body as one line of JSON, as published but for its white space; a body that is not JSON (only a
    forged event can be) with its newlines and control characters escaped."""
    text = event.body.decode(errors="replace")
    try:
        return printable(json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":")))
    except ValueError:
        return printable(text, newlines=False)


def one_line(event: ReceivedEvent) -> str:
    """``occurred_at routing_key type=... field=value ...``: every field of the event but its timestamp and
    type, its control characters escaped. The type is the message's property, as the relay sets it, or the
    body's for a message published without one."""
    try:
        body = event.payload()
    except ValueError:
        line = f"- {event.routing_key} (not a JSON object, {len(event.body)} bytes)"
        return printable(line, newlines=False)
    fields = " ".join(
        f"{_shown(key)}={_shown(value)}" for key, value in body.items() if key not in ("occurred_at", "type")
    )
    kind = body.get("type", "-") if event.type is None else event.type  # the property, as the relay sets it
    line = f"{body.get('occurred_at', '-')} {event.routing_key} type={_shown(kind)} {fields}"
    return printable(line, newlines=False)


def _shown(value: object) -> str:
    """A plain word as it is; anything else (a text with a space, a quote or ``=``, a null, a number, a
    list) as JSON, so that a line splits back into its fields."""
    plain = isinstance(value, str) and value and not any(char.isspace() or char in _QUOTED for char in value)
    if plain and not _reads_as_json(str(value)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _reads_as_json(text: str) -> bool:
    """Whether ``text`` unquoted would read as another JSON value: null, a boolean, a number."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


_QUOTED = frozenset('"=\\')
