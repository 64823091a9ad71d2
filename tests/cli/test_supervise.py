"""``docfleet supervise``: restarts a failed command, not a clean one, and stops with it on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.fleet import BIN

# Appends a line to STARTS on each start; then exits with the code its start number maps to (argv[3:],
# the last one for later starts); "kill" kills itself; "wait" writes "ready" to MARKS, then waits for
# SIGTERM and exits 0 on it, after writing "SIGTERM" there; "orphan" starts a process that would sleep
# for minutes, writes its pid to MARKS and kills itself, leaving it behind.
CHILD = """
import signal, subprocess, sys, time
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
sys.exit(int(step))
"""


Supervise = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Supervise]:
    """Starts ``docfleet supervise`` on the child with a plan, in a process group of its own, killed at
    the end whatever the test did: a supervisor a failing test left behind would restart forever."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*plan: str, backoff_max: float = 0.2, restart: str = "on-failure") -> subprocess.Popen[bytes]:
        script = tmp_path / "child.py"
        script.write_text(CHILD)
        child = [sys.executable, str(script), str(tmp_path / "starts"), str(tmp_path / "marks"), *plan]
        command = [str(BIN / "docfleet"), "supervise", "--backoff-initial", "0.05"]
        command += ["--backoff-max", str(backoff_max), "--healthy-after", "2", "--restart", restart]
        process = subprocess.Popen([*command, "--", *child], stderr=subprocess.PIPE, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _starts(tmp_path: Path) -> int:
    path = tmp_path / "starts"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_failed_or_killed_command_is_restarted_until_it_exits_cleanly(
    tmp_path: Path, supervise: Supervise
) -> None:
    process = supervise("3", "kill", "1", "1", "0")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert _starts(tmp_path) == 5
    assert log.count(b"supervised command started") == 5
    failures = [json.loads(line) for line in log.splitlines() if b"supervised command failed" in line]
    assert [failure["restart_in_s"] for failure in failures] == [0.05, 0.1, 0.2, 0.2], "doubled, capped"
    assert [failure["code"] for failure in failures] == [3, 137, 1, 1], "SIGKILL as a shell says it: 128 + 9"


def test_a_command_that_ran_healthy_for_a_while_is_restarted_after_the_first_wait_again(
    tmp_path: Path, supervise: Supervise
) -> None:
    process = supervise("1", "1", "late1", "1", "0", backoff_max=10)
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    failures = [json.loads(line) for line in log.splitlines() if b"supervised command failed" in line]
    # Without the reset the third wait would be 0.2: the third run lasted 2.5 s, past --healthy-after 2.
    assert [failure["restart_in_s"] for failure in failures] == [0.05, 0.1, 0.05, 0.1]


def test_a_clean_exit_is_not_restarted(tmp_path: Path, supervise: Supervise) -> None:
    process = supervise("0")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert _starts(tmp_path) == 1
    [exited] = [json.loads(line) for line in log.splitlines() if b"supervised command exited" in line]
    assert (exited["code"], exited["restart"]) == (0, False)


def test_with_restart_always_a_clean_exit_not_asked_for_is_restarted_too(
    tmp_path: Path, supervise: Supervise
) -> None:
    """Dramatiq's main process exits 0 once one worker process drained after a stray SIGTERM."""
    process = supervise("0", "0", "2", restart="always")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 2, "exit code 2 still ends it"
    assert _starts(tmp_path) == 3
    unasked = [json.loads(line) for line in log.splitlines() if b"supervised command exited unasked" in line]
    assert [(line["code"], line["restart_in_s"]) for line in unasked] == [(0, 0.05), (0, 0.1)]


def test_with_restart_always_a_stop_still_ends_it(tmp_path: Path, supervise: Supervise) -> None:
    process = supervise("wait", restart="always")
    _wait_for_mark(tmp_path, lambda text: text == "ready")
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert _starts(tmp_path) == 1
    assert b"exited unasked" not in log


def test_a_command_that_cannot_start_is_not_restarted(tmp_path: Path, supervise: Supervise) -> None:
    """Exit code 2: a bad option, argument, setting or module, for docfleet's commands and Dramatiq."""
    process = supervise("1", "2", "0")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 2
    assert _starts(tmp_path) == 2, "restarted after code 1, not after code 2"
    assert b"supervised command cannot start" in log


def test_a_command_whose_arguments_dramatiq_refuses_is_not_restarted(tmp_path: Path) -> None:
    command = [str(BIN / "docfleet"), "supervise", "--", str(BIN / "dramatiq"), "workers.actors"]
    process = subprocess.run([*command, "--threads", "abc"], capture_output=True, timeout=60, check=False)

    assert process.returncode == 2
    assert b"invalid int value: 'abc'" in process.stderr
    assert process.stderr.count(b"supervised command started") == 1


def test_a_program_that_is_not_there_is_one_line_and_not_restarted(tmp_path: Path) -> None:
    command = [str(BIN / "docfleet"), "supervise", "--", str(tmp_path / "no-such-program")]
    process = subprocess.run(command, capture_output=True, timeout=60, check=False)

    assert process.returncode == 2
    [line] = process.stderr.splitlines()  # one line, no traceback
    record = json.loads(line)
    assert record["error"] == "No such file or directory"
    assert record["event"] == "supervised command cannot be run"


def test_sigterm_is_forwarded_and_the_supervisor_exits_with_the_child_without_restarting(
    tmp_path: Path, supervise: Supervise
) -> None:
    process = supervise("wait")
    marks, deadline = tmp_path / "marks", time.monotonic() + 30
    while not (marks.exists() and marks.read_text() == "ready") and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=30)

    assert process.returncode == 0
    assert (tmp_path / "marks").read_text() == "SIGTERM"
    assert _starts(tmp_path) == 1
    assert b"forwarding signal" in log


def _running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in (b"Z", b"X")


def _wait_for_mark(tmp_path: Path, ready: Callable[[str], bool]) -> str:
    marks, deadline = tmp_path / "marks", time.monotonic() + 30
    while time.monotonic() < deadline:
        if marks.exists() and ready(text := marks.read_text()):
            return text
        time.sleep(0.05)
    pytest.fail(f"no mark: {marks.read_text() if marks.exists() else 'none'}")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads process states from /proc")
def test_what_a_killed_command_left_running_is_stopped_before_it_is_started_again(
    tmp_path: Path, supervise: Supervise
) -> None:
    """As Dramatiq's worker processes outlive a main process killed alone: they would go on consuming
    beside the fleet started next."""
    process = supervise("orphan", "0")
    left = int(_wait_for_mark(tmp_path, str.isdigit))
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert _starts(tmp_path) == 2
    assert not _running(left)
    [stopped] = [json.loads(line) for line in log.splitlines() if b"left running" in line]
    assert stopped["processes"] == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_supervisor_killed_outright_has_its_command_stopped_gracefully(
    tmp_path: Path, supervise: Supervise
) -> None:
    process = supervise("wait")
    _wait_for_mark(tmp_path, lambda text: text == "ready")

    process.kill()

    assert _wait_for_mark(tmp_path, lambda text: text == "SIGTERM") == "SIGTERM"


# Counts the SIGTERMs it gets in SIGTERMS (argv[1]), and exits 0.5 s after the first.
GRANDCHILD = """
import signal, sys, time
from pathlib import Path
counts, got = Path(sys.argv[1]), []
signal.signal(signal.SIGTERM, lambda *_: (got.append(1), counts.write_text(str(len(got)))))
counts.write_text("0")
while not got:
    time.sleep(0.02)
time.sleep(0.5)
"""


def test_a_stop_reaches_the_command_s_own_children_once_through_the_command(
    tmp_path: Path, supervise: Supervise
) -> None:
    """Dramatiq's worker processes take a second SIGTERM for "stop now": the supervisor signals the
    command alone, which passes the signal on, never its whole process group."""
    (tmp_path / "grandchild.py").write_text(GRANDCHILD)
    process = supervise("family")
    _wait_for_mark(tmp_path, lambda text: text == "ready")

    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)

    assert process.returncode == 0
    assert (tmp_path / "sigterms").read_text() == "1"
