"""Stale listings: each folder listed through the fleet, for each user, compared with Postgres."""

from __future__ import annotations

from tests.faults.ledger_queries import rows
from tests.faults.workload import Workload
from workers.client import DocfleetClient
from workers.settings import Settings

VISIBLE = """
SELECT d.id, d.version FROM documents d JOIN access_policies p ON p.document_id = d.id
WHERE d.folder_id = %s AND p.user_id = %s
"""


def listed(client: DocfleetClient, folder: str, user: str) -> set[tuple[str, int]]:
    """Every document of every page the fleet lists for ``user``, with its version."""
    found: set[tuple[str, int]] = set()
    cursor: str | None = None
    while True:
        page = client.list_folder(folder_id=folder, requested_by=user, limit=1000, cursor=cursor, timeout=60)
        found |= {(document.id, document.version) for document in page.documents}
        cursor = page.next_cursor
        if cursor is None:
            return found


def stale_listings(settings: Settings, workload: Workload, folders: list[str] | None = None) -> list[str]:
    """The listings (``folder/user``) that differ from what Postgres holds: documents missing or extra,
    or an older version."""
    stale = []
    with DocfleetClient.from_settings(settings, name="faults-reader") as client:
        for folder in folders or workload.folders:
            for user in workload.users:
                truth = {
                    (doc, version) for doc, version in rows(settings.database_url, VISIBLE, folder, user)
                }
                if listed(client, folder, user) != truth:
                    stale.append(f"{folder}/{user}")
    return stale
