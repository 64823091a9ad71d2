"""The files through which a hook in a fleet process and the harness talk: triggers and announcements."""

from __future__ import annotations

import os
import time
from pathlib import Path

HOOKS_DIR_ENV = "FAULT_HOOKS_DIR"
POLL_S = 0.02


def hooks_dir() -> Path | None:
    configured = os.environ.get(HOOKS_DIR_ENV)
    return Path(configured) if configured else None


def triggered(name: str) -> bool:
    directory = hooks_dir()
    return directory is not None and (directory / name).exists()


def announce(name: str, text: str) -> None:
    """Adds a line to ``<name>.<pid>``: which process holds, and what."""
    directory = hooks_dir()
    if directory is not None:
        with (directory / f"{name}.{os.getpid()}").open("a") as out:
            out.write(f"{text}\n")


def hold_while(name: str) -> None:
    """Waits as long as the trigger ``name`` exists."""
    while triggered(name):
        time.sleep(POLL_S)
