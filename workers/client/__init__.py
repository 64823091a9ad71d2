"""A Python client of docfleet: each command validated with the workers' models, then sent with a confirm.

from workers.client import DocfleetClient
from workers.settings import Settings

with DocfleetClient.from_settings(Settings.from_env()) as client:
    message_id = client.add_member(org_id="acme", user_id="alice")
    page = client.list_folder(folder_id="f-reports", requested_by="alice", limit=20)
"""

from workers.client.client import DocfleetClient
from workers.client.envelopes import prepare, validate
from workers.client.errors import (
    ClientError,
    InvalidArguments,
    NotSent,
    QueryFailed,
    QueryRefused,
    QueryTimeout,
)

__all__ = [
    "ClientError",
    "DocfleetClient",
    "InvalidArguments",
    "NotSent",
    "QueryFailed",
    "QueryRefused",
    "QueryTimeout",
    "prepare",
    "validate",
]
