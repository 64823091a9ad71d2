"""``docfleet demo``: a small scenario sent to the running fleet, each step awaited through its event."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from adapters.rabbitmq.subscription import EventSubscription, ReceivedEvent
from workers.cli.failures import CliError

PATTERNS = ("member.added", "folder.created", "document.#", "command.rejected.*")
REFUSALS = ("CommandRejected", "ShareDenied")
Send = Callable[[str, dict[str, Any]], None]
Step = tuple[list[tuple[str, dict[str, Any]]], str]


def scenario(suffix: str) -> tuple[str, list[Step]]:
    """Two members of a new organization, a folder, a document uploaded by one, shared with the other."""
    org, alice, bob = f"demo-org-{suffix}", f"alice-{suffix}", f"bob-{suffix}"
    folder, doc = f"demo-folder-{suffix}", f"demo-doc-{suffix}"
    document = {"doc_id": doc, "org_id": org, "folder_id": folder, "owner_id": alice, "name": "plan.pdf"}
    document |= {"mime_type": "application/pdf", "blob_uri": f"s3://demo/{doc}.pdf"}
    members = [("add_member", {"org_id": org, "user_id": user}) for user in (alice, bob)]
    folder_kwargs = {"folder_id": folder, "org_id": org, "name": "Demo", "created_by": alice}
    share = {"doc_id": doc, "shared_by": alice, "shared_with": bob, "role": "viewer"}
    return org, [
        (members, "MemberAdded"),
        ([("create_folder", folder_kwargs)], "FolderCreated"),
        ([("upload_document", document)], "DocumentUploaded"),
        ([("share_document", share)], "DocumentShared"),
    ]


def run_demo(send: Send, tap: EventSubscription, timeout: float, say: Callable[[str], None]) -> ReceivedEvent:
    """Sends each step's messages, then waits for one event of the expected type per message."""
    org, steps = scenario(uuid.uuid4().hex[:8])
    say(f"organization {org}")
    event: ReceivedEvent | None = None
    for messages, expected in steps:
        for actor_name, kwargs in messages:
            send(actor_name, kwargs)
        for actor_name, _ in messages:
            event = await_event(tap, org, expected, timeout)
            say(f"  {actor_name:<16} -> {event.type} on {event.routing_key}")
    if event is None:
        raise CliError("the demo scenario is empty")
    return event


def await_event(tap: EventSubscription, org: str, expected: str, timeout: float) -> ReceivedEvent:
    """The next event of ``expected`` type for the organization; a refusal of one of its steps fails."""
    deadline = time.monotonic() + timeout
    while (event := tap.next_event(max(0.0, deadline - time.monotonic()))) is not None:
        body = _payload(event)
        if body.get("org_id") == org and event.type in REFUSALS:
            raise CliError(f"{event.type}: {body.get('reason')}: {body.get('detail')}")
        if body.get("org_id") == org and event.type == expected:
            return event
    raise CliError(
        f"no {expected} event within {timeout:g} s: are the worker and the relay running (make run)?"
    )


def _payload(event: ReceivedEvent) -> dict[str, Any]:
    try:
        return event.payload()
    except ValueError:
        return {}
