"""``scripts/ensure-services`` looks where the URL settings point, and only starts what is on this machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "ensure-services"

# The script starts any local service that is down: never part of a run meant to need no services.
pytestmark = pytest.mark.integration


def _run(**env: str) -> subprocess.CompletedProcess[str]:
    """The script with ``env`` for the URL settings, the others unset (docfleet's defaults)."""
    inherited = {name: value for name, value in os.environ.items() if not name.endswith("_URL")}
    return subprocess.run(
        [str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**inherited, "SERVICES_WAIT_SECONDS": "1", **env},
        check=False,
    )


def test_a_service_on_another_host_is_waited_for_there_and_not_started_here() -> None:
    # .invalid never resolves (RFC 2606): nothing can answer there.
    done = _run(DATABASE_URL="postgresql+psycopg://u:secret@db.invalid:6543/docfleet?options=-c%20x%3D1")

    assert done.returncode == 1
    assert "Postgres did not answer on db.invalid:6543" in done.stderr
    assert "starting Postgres" not in done.stdout
    assert "secret" not in done.stdout + done.stderr


def test_the_default_urls_are_looked_for_on_this_machine() -> None:
    done = _run()
    assert done.returncode == 0, done.stderr
    assert "Postgres, Valkey and RabbitMQ answer" in done.stdout
