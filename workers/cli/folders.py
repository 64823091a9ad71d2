"""``docfleet folder create`` and ``docfleet folder ls``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer

from workers.cli.commands import MessageIdOption, send_one
from workers.cli.failures import load_settings
from workers.cli.output import add_row, command_group, console, print_json, table

if TYPE_CHECKING:
    from workers.contract_events import ListFolderResult

folder_app = command_group("Folders: create one, list the documents of one.")


DEFAULT_LIMIT = 50
DEFAULT_TIMEOUT_S = 10.0


def register(app: typer.Typer) -> None:
    app.add_typer(folder_app, name="folder")


@folder_app.command("create", short_help="Create a folder; prints the message id.")
def create_folder(
    folder_id: Annotated[str, typer.Argument(metavar="FOLDER", help="The new folder's id.")],
    org: Annotated[str, typer.Option(help="Its organization.")],
    name: Annotated[str, typer.Option(help="Its name, unique among its siblings.")],
    by: Annotated[str, typer.Option("--by", help="Who creates it: a member of ORG.")],
    parent: Annotated[str | None, typer.Option(help="The parent folder [default: the root].")] = None,
    message_id: MessageIdOption = None,
) -> None:
    """Create a folder at the root of an organization, or under --parent; prints the message id.

    \b
    Example:
      docfleet folder create f-reports --org acme --name Reports --by alice
    """
    kwargs = {"folder_id": folder_id, "org_id": org, "name": name, "parent_id": parent, "created_by": by}
    send_one("create_folder", kwargs, message_id)


def _finite(seconds: float) -> float:
    if not math.isfinite(seconds):
        raise typer.BadParameter(f"a number of seconds, not {seconds}")
    return seconds


@folder_app.command("ls", short_help="List a page of a folder's documents, as a user.")
def list_folder(
    folder_id: Annotated[str, typer.Argument(metavar="FOLDER", help="The folder.")],
    requested_by: Annotated[str, typer.Option("--as", help="Whose view: only documents they may see.")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Documents per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor a previous page gave.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    timeout: Annotated[
        float, typer.Option(min=1.0, callback=_finite, help="Seconds to wait for the answer.")
    ] = DEFAULT_TIMEOUT_S,
) -> None:
    """List one page of a folder's documents, newest first, as a user sees it.

    Sends list_folder and waits for a worker's answer. A refusal (not a member, no such folder, a
    malformed cursor) exits with 3.

    \b
    Examples:
      docfleet folder ls f-reports --as bob --limit 20
      docfleet folder ls f-reports --as bob --cursor MjAyNC0wNS0w... --json
    """
    from workers.client import DocfleetClient, validate

    kwargs = {"folder_id": folder_id, "requested_by": requested_by, "limit": limit, "cursor": cursor}
    validate("list_folder", kwargs)
    with DocfleetClient.from_settings(load_settings(), name="docfleet-cli") as client:
        page = client.list_folder(
            folder_id=folder_id, requested_by=requested_by, limit=limit, cursor=cursor, timeout=timeout
        )
    if as_json:
        print_json(page.model_dump(mode="json", exclude={"error"}))
        return
    show_page(page, folder_id, requested_by, limit=limit, timeout=timeout)


def show_page(
    page: ListFolderResult,
    folder_id: str,
    requested_by: str,
    *,
    limit: int = DEFAULT_LIMIT,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> None:
    out = console()
    grid = table("document", "name", "version", "media type", "owner", "tags", "updated", whole="document")
    for document in page.documents:
        row = [document.id, document.name, document.version, document.mime_type, document.owner_id]
        add_row(grid, [*row, ", ".join(document.tags), document.updated_at])
    if page.documents:
        out.print(grid)
    count = len(page.documents)
    out.print(f"{count} document{'' if count == 1 else 's'} in {folder_id} visible to {requested_by}")
    if page.next_cursor is not None:
        asked = "" if limit == DEFAULT_LIMIT else f" --limit {limit}"  # the same page size and patience
        asked += "" if timeout == DEFAULT_TIMEOUT_S else f" --timeout {timeout:g}"
        command = f"docfleet folder ls {folder_id} --as {requested_by}{asked} --cursor {page.next_cursor}"
        out.print(f"next page: {command}", soft_wrap=True)  # one line, to be pasted whole
