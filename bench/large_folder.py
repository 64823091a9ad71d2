"""``python -m bench.large_folder``: pages of a folder too large to list whole, on throwaway resources.

The folder's documents are inserted by SQL (uploading 100,000 through the product would take minutes and
measure uploads); its owner holds a role on each, a reader on one in ten, and a third member on none.
Other organizations' folders hold as many documents again and more (``--others``), each with its owner's
role, so that the planner sees the folder as one of many, as in a deployment shared by organizations.
Each requester's first pages are read through ``Application.list_folder``, then a page from a position
nine tenths of the way down; the medians of ``--repeats`` are printed in milliseconds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import psycopg

from adapters.postgres.engine import libpq_conninfo
from bench.load import ORG, OWNER, READER
from bench.resources import throwaway_settings
from bench.seed import apply, prepare_run
from bench.stats import median
from domain.commands import AddMember, ListFolderDocuments
from domain.listing import DocumentPage, encode_cursor
from workers.bootstrap import Application
from workers.settings import Settings

NO_ROLE = "bench-no-role"
_INSERT_DOCUMENTS = """
INSERT INTO documents (id, org_id, folder_id, owner_id, uploaded_by, name, mime_type, version, blob_uri,
                       tags, created_at, updated_at)
SELECT 'large-' || n, %(org)s, %(folder)s, %(owner)s, %(owner)s, 'report ' || n || '.pdf', 'application/pdf',
       1, 's3://bench/large-' || n || '.pdf', '{bench}', now() - n * interval '1 second', now()
FROM generate_series(1, %(count)s) AS n"""
_OTHERS = """
WITH orgs AS (INSERT INTO organizations SELECT 'other-org-' || o FROM generate_series(0, 199) AS o)
INSERT INTO folders (id, org_id, parent_id, name, path, created_by, created_at)
SELECT 'other-folder-' || f, 'other-org-' || mod(f, 200), NULL, 'folder ' || f,
       '/other-folder-' || f || '/', 'someone', now()
FROM generate_series(0, 999) AS f"""
_OTHER_DOCUMENTS = """
INSERT INTO documents (id, org_id, folder_id, owner_id, uploaded_by, name, mime_type, version, blob_uri,
                       tags, created_at, updated_at)
SELECT 'other-' || n, 'other-org-' || mod(mod(n, 1000), 200), 'other-folder-' || mod(n, 1000),
       'owner-' || mod(n, 50), 'owner-' || mod(n, 50), 'other ' || n || '.pdf', 'application/pdf', 1,
       's3://bench/other-' || n || '.pdf', '{bench}', now() - n * interval '1 second', now()
FROM generate_series(1, %(count)s) AS n"""
_OTHER_GRANTS = """
INSERT INTO access_policies SELECT id, owner_id, 'owner' FROM documents WHERE starts_with(id, 'other-')"""
_POSITION = "SELECT created_at, id FROM documents WHERE id = %s"
_GRANT = "INSERT INTO access_policies SELECT 'large-' || n, %s, %s FROM generate_series(1, %s, %s) AS n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.large_folder", description=__doc__)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=300_000, help="documents in other organizations")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args(argv)
    with throwaway_settings(Settings.from_env()) as settings:
        app = Application.from_settings(settings, threads=1)
        try:
            folder, deep = _fill(app, settings.database_url, options.documents, options.others)
            for user in (OWNER, READER, NO_ROLE):
                print(f"{user:>14}: " + _figures(app, folder, user, deep, options.repeats))
        finally:
            app.close()
    return 0


def _fill(app: Application, database_url: str, count: int, others: int) -> tuple[str, str]:
    """The folder, and the cursor of a position nine tenths of the way down it, newest first."""
    prepare_run(app, "large", [], folders=0)
    apply(app, AddMember(org_id=ORG, user_id=NO_ROLE), "large-member-no-role", "add_member")
    folder = "large-list"
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as connection:
        connection.execute(_INSERT_DOCUMENTS, {"org": ORG, "folder": folder, "owner": OWNER, "count": count})
        connection.execute(_GRANT, (OWNER, "owner", count, 1))
        connection.execute(_GRANT, (READER, "viewer", count, 10))
        connection.execute(_OTHERS)
        connection.execute(_OTHER_DOCUMENTS, {"count": others})
        connection.execute(_OTHER_GRANTS)
        connection.execute("VACUUM (ANALYZE)")
        row = connection.execute(_POSITION, (f"large-{count * 9 // 10}",)).fetchone()
    if row is None:
        raise RuntimeError("the folder's documents are missing")
    return folder, encode_cursor((row[0], row[1]))


def _figures(app: Application, folder: str, user: str, deep: str, repeats: int) -> str:
    def page(cursor: str | None) -> Callable[[], DocumentPage]:
        query = ListFolderDocuments(folder_id=folder, requested_by=user, limit=100, cursor=cursor)
        return lambda: app.list_folder(query)

    shown = len(page(None)().documents)
    if shown != (0 if user == NO_ROLE else 100):
        raise RuntimeError(f"{user}'s first page showed {shown} documents")
    first = _timed(page(None), repeats)
    second_cursor = page(None)().next_cursor
    second = f"{_timed(page(second_cursor), repeats):.1f} ms" if second_cursor else "none"
    return f"first page {first:.1f} ms, second {second}, from 9/10 down {_timed(page(deep), repeats):.1f} ms"


def _timed(call: Callable[[], object], repeats: int) -> float:
    times: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


if __name__ == "__main__":
    raise SystemExit(main())
