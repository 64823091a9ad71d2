"""A process in the state of Dramatiq's main process when a worker process was killed as it came up,
or in half of it; run as a script: ``python wedged_main.py MARKS [both|blocked|dead-child|stale S]``.

- ``both``: Dramatiq's own way there. Stop signals blocked, as its main process has them during the
  boot's wait; a child forked as a worker process is, killed while it holds the lock of the
  ``multiprocessing`` Event the main process then waits on, for ever, whatever the wait's timeout.
- ``blocked``: stop signals blocked, no dead child.
- ``dead-child``: a child that exited and is never reaped, stop signals as usual.
- ``stale S``: a child that exited and is never reaped, then S seconds later stop signals blocked: as
  Dramatiq's main process booting again after its reload, beside the fork processes of the run before.

It first writes ``started PID`` to MARKS; once there, ``ready PID DEAD_CHILD_PID`` (0 for none). It
never exits on its own.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import signal
import sys
import time
from pathlib import Path

from dramatiq.cli import HANDLED_SIGNALS  # what Dramatiq's main process blocks through its boot

from workers.cli.procfs import state

_FORK = multiprocessing.get_context("fork")


def main(marks: Path, kind: str, stale_s: float = 0.0) -> None:
    marks.write_text(f"started {os.getpid()} 0")
    if kind in ("both", "blocked"):
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    booted = _FORK.Event()
    dead = 0
    if kind in ("both", "dead-child", "stale"):
        worker = _FORK.Process(target=_die_holding, args=(booted,) if kind == "both" else (None,))
        worker.start()
        dead = worker.pid or 0
        _until_dead(dead)
    if kind == "stale":
        time.sleep(stale_s)
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    marks.write_text(f"ready {os.getpid()} {dead}")
    if kind == "both":
        booted.wait(timeout=1)  # takes the Event's lock first: held by the dead child, never returns
    while True:
        time.sleep(1)


def _die_holding(event: multiprocessing.synchronize.Event | None) -> None:
    """Killed while holding the Event's lock, as ``Event.set`` holds it until its waiter has woken."""
    if event is not None:
        event._cond.acquire()  # type: ignore[attr-defined]  # the Event's own lock, private
    os.kill(os.getpid(), signal.SIGKILL)


def _until_dead(pid: int) -> None:
    while state(pid) != "Z":
        time.sleep(0.01)


def read_marks(marks: Path) -> tuple[str, int, int]:
    """What a run of this script wrote to MARKS: ("started" or "ready", its pid, its dead child's pid or
    0); ("", 0, 0) before it wrote anything."""
    words = [*(marks.read_text() if marks.exists() else "").split(), "", "0", "0"]
    if words[0] not in ("started", "ready") or not (words[1].isdigit() and words[2].isdigit()):
        return "", 0, 0
    return words[0], int(words[1]), int(words[2])


if __name__ == "__main__":
    marks_path, kind, *rest = [*sys.argv[1:], "both"][:2] + sys.argv[3:]
    main(Path(marks_path), kind, float(rest[0]) if rest else 0.0)
