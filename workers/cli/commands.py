"""One command each, sent through the client: ``member add``, ``upload``, ``share``, ``revoke``.

Each validates its arguments as a worker would, sends nothing if one is wrong (exit 2), and prints the
message id of what it sent once RabbitMQ confirmed it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from workers.cli.failures import CliError, load_settings
from workers.cli.output import command_group

member_app = command_group("Members of organizations.")
MessageIdOption = Annotated[
    str | None,
    typer.Option(help="The idempotency key [default: a new UUID]; sending again with it changes nothing."),
]


class Role(StrEnum):
    viewer = "viewer"
    editor = "editor"
    owner = "owner"


def register(app: typer.Typer) -> None:
    app.add_typer(member_app, name="member")
    app.command(short_help="Upload a document's metadata; prints the message id.")(upload)
    app.command()(share)
    app.command()(revoke)


def send_one(actor: str, kwargs: dict[str, Any], message_id: str | None) -> None:
    """Validates, sends and awaits the confirm through a client on the workers' settings; prints the id.

    When the confirm never came but RabbitMQ may have taken the message (the connection was lost after
    the publish), the one line says so and gives the ``--message-id`` to send it again with: a copy
    already taken then makes the second a duplicate, applied once."""
    from workers.client import DocfleetClient, NotSent, validate

    validate(actor, kwargs, message_id)  # a bad argument is told before any connection is tried
    with DocfleetClient.from_settings(load_settings(), name="docfleet-cli") as client:
        try:
            sent = client.send(actor, kwargs, message_id=message_id)
        except NotSent as error:
            if not error.maybe_taken or error.message_id is None:
                raise
            raise CliError(
                f"{error.reason}; the command may have been taken all the same: send it again with "
                f"--message-id {error.message_id} (a copy already taken is then dropped as a duplicate)"
            ) from None
    typer.echo(sent)


@member_app.command("add")
def add_member(
    org: Annotated[
        str, typer.Argument(metavar="ORG", help="The organization (created with its first member).")
    ],
    user: Annotated[str, typer.Argument(metavar="USER", help="The user who becomes a member.")],
    message_id: MessageIdOption = None,
) -> None:
    """Make USER a member of ORG; prints the message id.

    \b
    Example:
      docfleet member add acme alice
    """
    send_one("add_member", {"org_id": org, "user_id": user}, message_id)


def upload(
    doc_id: Annotated[
        str, typer.Argument(metavar="DOC", help="The document; a known one gets a new version.")
    ],
    org: Annotated[str, typer.Option(help="Its organization.")],
    folder: Annotated[str, typer.Option(help="Its folder.")],
    owner: Annotated[str, typer.Option(help="The uploading user, a member of ORG.")],
    name: Annotated[str, typer.Option(help="The file name.")],
    mime_type: Annotated[str, typer.Option(help="Its media type, e.g. application/pdf.")],
    blob_uri: Annotated[str, typer.Option(help="Where the bytes are: s3://, gs://, az:// or https://.")],
    tag: Annotated[list[str] | None, typer.Option(metavar="TAG", help="A tag, repeatable.")] = None,
    message_id: MessageIdOption = None,
) -> None:
    """Upload a document's metadata (the bytes stay where BLOB_URI says); prints the message id.

    \b
    Example:
      docfleet upload doc-42 --org acme --folder f-reports --owner alice --name 'Q3 report.pdf' \\
        --mime-type application/pdf --blob-uri s3://acme-documents/doc-42/v1.pdf --tag finance --tag q3
    """
    fields: dict[str, Any] = {
        "doc_id": doc_id,
        "org_id": org,
        "folder_id": folder,
        "owner_id": owner,
        "name": name,
    }
    fields |= {"mime_type": mime_type, "blob_uri": blob_uri, "tags": tag or []}
    send_one("upload_document", fields, message_id)


def share(
    doc_id: Annotated[str, typer.Argument(metavar="DOC", help="The document.")],
    by: Annotated[str, typer.Option("--by", help="Who shares: an owner of the document.")],
    with_user: Annotated[str, typer.Option("--with", help="Who receives the role: a member.")],
    role: Annotated[Role, typer.Option(help="The role granted.")],
    message_id: MessageIdOption = None,
) -> None:
    """Grant a role on a document to a member; prints the message id.

    \b
    Example:
      docfleet share doc-42 --by alice --with bob --role editor
    """
    fields = {"doc_id": doc_id, "shared_by": by, "shared_with": with_user, "role": role.value}
    send_one("share_document", fields, message_id)


def revoke(
    doc_id: Annotated[str, typer.Argument(metavar="DOC", help="The document.")],
    by: Annotated[str, typer.Option("--by", help="Who revokes: an owner of the document.")],
    user: Annotated[str, typer.Option("--user", help="Whose role is removed.")],
    message_id: MessageIdOption = None,
) -> None:
    """Remove a user's role on a document; prints the message id.

    \b
    Example:
      docfleet revoke doc-42 --by alice --user bob
    """
    fields = {"doc_id": doc_id, "revoked_by": by, "user_id": user}
    send_one("revoke_access", fields, message_id)
