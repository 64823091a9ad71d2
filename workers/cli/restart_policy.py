"""When ``docfleet supervise`` starts its command again, and how long it waits on what is left of it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Restart(StrEnum):
    ON_FAILURE = "on-failure"
    ALWAYS = "always"
    NEVER = "never"
    """Where the platform restarts the process (containers): the supervisor still forwards stop signals,
    kills a stuck command and stops what it left running, then exits with its code."""


@dataclass(frozen=True)
class RestartPolicy:
    initial: float = 0.5
    maximum: float = 10.0
    healthy_after: float = 30.0
    """A child that ran this many seconds before exiting is restarted after ``initial`` again."""
    orphans_grace: float = 70.0
    """How long what a child left running has to stop after SIGTERM (a drain), before SIGKILL: a
    Dramatiq worker process's longest clean stop under the Procfile's shutdown timeout (its threads and
    then its consumers 20 s each, each of four consumers' 5 s for dead letters, the metrics' last write:
    65 s), with 5 s to spare, as after a stuck main process was killed."""
    after_clean_exit: bool = False
    """Whether a clean exit the supervisor did not ask for is restarted too."""
    after_failure: bool = True
    """Whether a failure is restarted (not with ``--restart never``: the platform does)."""
    stuck_after: float = 60.0
    """How long a child may block SIGTERM with a dead process of its own unreaped; 0: not watched."""
