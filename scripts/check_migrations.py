"""Builds a throwaway database with the migrations alone and checks it reaches head, then drops it.

Only that they run, before the tests: whether what they build equals the tables the adapter declares
is checked by tests/integration/test_postgres_schema.py."""

from __future__ import annotations

import sys

from adapters.postgres.migrations import is_at_head, upgrade_to_head
from tests.support.services import default_settings, throwaway_database


def main() -> int:
    with throwaway_database(default_settings().database_url) as url:
        upgrade_to_head(url)
        if not is_at_head(url):
            print("migrations: the throwaway database is not at head after upgrading", file=sys.stderr)
            return 1
    print("migrations: a throwaway database upgraded to head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
