"""``docfleet supervise`` run by tests, on a child whose plan says what each of its starts does."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.e2e.fleet import BIN
from tests.support import wedged_main
from tests.support.waiting import wait_for

# Appends a line to STARTS on each start; then exits with the code its start number maps to (argv[3:],
# the last one for later starts); "kill" kills itself; "wait" writes "ready" to MARKS, then waits for
# SIGTERM and exits 0 on it, after writing "SIGTERM" there; "orphan" starts a process that would sleep
# for minutes, writes its pid to MARKS and kills itself, leaving it behind; "wedge" becomes a process
# stuck as Dramatiq's main process can be (tests/support/wedged_main.py), which writes "ready ..." to MARKS;
# "hup" writes "ready" to MARKS, then on SIGHUP adds " SIGHUP" and exits 1, on SIGTERM adds " SIGTERM" and
# exits 0 once a file "release" is beside MARKS (10 s at most).
CHILD = """
import os, signal, subprocess, sys, time
from pathlib import Path
starts, marks = Path(sys.argv[1]), Path(sys.argv[2])
with starts.open("a") as out:
    out.write("start\\n")
count = len(starts.read_text().splitlines())
plan = sys.argv[3:]
step = plan[min(count, len(plan)) - 1]
if step == "wait":
    signal.signal(signal.SIGTERM, lambda *_: (marks.write_text("SIGTERM"), sys.exit(0)))
    marks.write_text("ready")
    while True:
        time.sleep(0.05)
if step.startswith("late"):  # "late3": exits with 3 after running for 2.5 s
    time.sleep(2.5)
    sys.exit(int(step[4:]))
if step == "kill":
    signal.raise_signal(signal.SIGKILL)
if step == "family":  # as Dramatiq's main process: passes a SIGTERM on to its child (a moment later)
    grandchild, sigterms = marks.with_name("grandchild.py"), marks.with_name("sigterms")
    kid = subprocess.Popen([sys.executable, str(grandchild), str(sigterms)])
    signal.signal(signal.SIGTERM, lambda *_: (time.sleep(0.2), kid.send_signal(signal.SIGTERM)))
    while not sigterms.exists():
        time.sleep(0.02)
    marks.write_text("ready")
    sys.exit(kid.wait())
if step == "orphan":
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    marks.write_text(str(left.pid))
    signal.raise_signal(signal.SIGKILL)
if step == "hup":
    def add(word):
        with marks.open("a") as out:
            out.write(" " + word)
    signal.signal(signal.SIGHUP, lambda *_: (add("SIGHUP"), sys.exit(1)))
    def release(*_):
        add("SIGTERM")
        deadline = time.monotonic() + 10
        while not marks.with_name("release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        sys.exit(0)
    signal.signal(signal.SIGTERM, release)
    marks.write_text("ready")
    while True:
        time.sleep(0.05)
if step == "wedge":
    os.execv(sys.executable, [sys.executable, str(marks.with_name("wedged_main.py")), str(marks)])
sys.exit(int(step))
"""


Supervise = Callable[..., "subprocess.Popen[bytes]"]


@contextlib.contextmanager
def supervising(tmp_path: Path) -> Iterator[Supervise]:
    """Starts ``docfleet supervise`` on the child with a plan, in a process group of its own, killed at
    the end whatever the test did: a supervisor a failing test left behind would restart forever."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        *plan: str, backoff_max: float = 0.2, restart: str = "on-failure", stuck_after: float | None = None
    ) -> subprocess.Popen[bytes]:
        script = tmp_path / "child.py"
        script.write_text(CHILD)
        shutil.copy(wedged_main.__file__, tmp_path / "wedged_main.py")
        child = [sys.executable, str(script), str(tmp_path / "starts"), str(tmp_path / "marks"), *plan]
        command = [str(BIN / "docfleet"), "supervise", "--backoff-initial", "0.05"]
        command += ["--backoff-max", str(backoff_max), "--healthy-after", "2", "--restart", restart]
        command += [] if stuck_after is None else ["--stuck-after", str(stuck_after)]
        process = subprocess.Popen([*command, "--", *child], stderr=subprocess.PIPE, start_new_session=True)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        kill_wedged(tmp_path)  # in a group of its own, and deaf to the SIGTERM its supervisor's death sends
        for process in started:
            process.communicate()


def kill_wedged(tmp_path: Path) -> None:
    """Kills a process the "wedge" step became, if it is still there (its pid may be another's now)."""
    _, pid, _ = wedged_main.read_marks(tmp_path / "marks")
    with contextlib.suppress(OSError):
        if pid and b"wedged_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)


def starts(tmp_path: Path) -> int:
    path = tmp_path / "starts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def wait_for_mark(tmp_path: Path, ready: Callable[[str], bool]) -> str:
    marks = tmp_path / "marks"

    def mark() -> str | None:
        text = marks.read_text() if marks.exists() else ""
        return text if text and ready(text) else None

    return wait_for(mark, what=f"the child's mark in {marks}")
