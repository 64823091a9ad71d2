"""``docfleet supervise``: restarts a failed command, not a clean one, and stops with it on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.fleet import BIN
from tests.support import wedged_main

# Appends a line to STARTS on each start; then exits with the code its start number maps to (argv[3:],
# the last one for later starts); "kill" kills itself; "wait" writes "ready" to MARKS, then waits for
# SIGTERM and exits 0 on it, after writing "SIGTERM" there; "orphan" starts a process that would sleep
# for minutes, writes its pid to MARKS and kills itself, leaving it behind; "wedge" becomes a process
# stuck as Dramatiq's main process can be (tests/support/wedged_main.py), which writes "ready ..." to MARKS;
# "hup" writes "ready" to MARKS, then on SIGHUP adds " SIGHUP" and exits 1, on SIGTERM adds " SIGTERM" and
# exits 0 a second later.
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
    signal.signal(signal.SIGTERM, lambda *_: (add("SIGTERM"), time.sleep(1), sys.exit(0)))
    marks.write_text("ready")
    while True:
        time.sleep(0.05)
if step == "wedge":
    os.execv(sys.executable, [sys.executable, str(marks.with_name("wedged_main.py")), str(marks)])
sys.exit(int(step))
"""


Supervise = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Supervise]:
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

    yield start
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    _kill_wedged(tmp_path)  # in a group of its own, and deaf to the SIGTERM its supervisor's death sends
    for process in started:
        process.communicate()


def _kill_wedged(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    words = (marks.read_text() if marks.exists() else "").split()
    if len(words) > 1 and words[0] in ("started", "ready") and words[1].isdigit():
        pid = int(words[1])
        with contextlib.suppress(OSError):  # gone already, its pid perhaps another's: look first
            if b"wedged_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)


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


def test_with_restart_never_a_failure_ends_it_with_the_command_s_code(
    tmp_path: Path, supervise: Supervise
) -> None:
    """As in a container, whose platform restarts what exits."""
    process = supervise("3", "0", restart="never")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 3
    assert _starts(tmp_path) == 1
    [failed] = [json.loads(line) for line in log.splitlines() if b"supervised command failed" in line]
    assert (failed["code"], failed["restart"]) == (3, False)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_with_restart_never_a_stuck_command_is_killed_and_its_exit_passed_on(
    tmp_path: Path, supervise: Supervise
) -> None:
    process = supervise("wedge", "0", restart="never", stuck_after=1)
    _, log = process.communicate(timeout=60)

    assert process.returncode == 128 + signal.SIGKILL
    assert _starts(tmp_path) == 1
    assert b"supervised command stuck" in log


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


def test_sighup_is_passed_on_and_is_no_stop(tmp_path: Path, supervise: Supervise) -> None:
    """Dramatiq's reload; as PID 1 of a container the supervisor would otherwise drop it. Here the
    child fails on it, and is restarted: a stop would not have been."""
    process = supervise("hup", "0")
    _wait_for_mark(tmp_path, lambda text: text == "ready")
    process.send_signal(signal.SIGHUP)
    _, log = process.communicate(timeout=30)

    assert process.returncode == 0
    assert _starts(tmp_path) == 2
    assert (tmp_path / "marks").read_text() == "ready SIGHUP"
    assert b'"signal":"SIGHUP"' in log


def test_sighup_during_a_stop_is_not_passed_on(tmp_path: Path, supervise: Supervise) -> None:
    """Dramatiq would take it for a reload, and boot again instead of finishing its drain."""
    process = supervise("hup")
    _wait_for_mark(tmp_path, lambda text: text == "ready")
    process.send_signal(signal.SIGTERM)
    _wait_for_mark(tmp_path, lambda text: "SIGTERM" in text)
    process.send_signal(signal.SIGHUP)
    _, log = process.communicate(timeout=30)

    assert process.returncode == 0
    assert (tmp_path / "marks").read_text() == "ready SIGTERM"
    assert b"not forwarding signal: stopping" in log


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


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_a_command_stuck_as_dramatiq_s_main_process_can_be_is_killed_and_started_again(
    tmp_path: Path, supervise: Supervise
) -> None:
    """Its stop signals blocked, a worker process it started dead and unreaped: it would never exit, so
    no restart would come (docs/reliability.md, "A worker process killed as it comes up")."""
    process = supervise("wedge", "0", stuck_after=1)
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert _starts(tmp_path) == 2
    [stuck] = [json.loads(line) for line in log.splitlines() if b"supervised command stuck" in line]
    assert stuck["level"] == "error"
    assert stuck["stuck_for_s"] >= 1
    [failed] = [json.loads(line) for line in log.splitlines() if b"supervised command failed" in line]
    assert failed["code"] == 128 + signal.SIGKILL


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_a_stop_while_the_command_is_stuck_ends_once_it_is_killed_a_few_seconds_on(
    tmp_path: Path, supervise: Supervise
) -> None:
    """The SIGTERM forwarded to it stays pending: the watch is what ends the stop, without waiting out
    --stuck-after (honcho kills the supervisor 5 s after Ctrl-C, which would leave it unsupervised)."""
    process = supervise("wedge", "0", stuck_after=600)
    _wait_for_mark(tmp_path, lambda text: text.startswith("ready"))
    asked = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=60)

    assert time.monotonic() - asked < 30, "3 s, looking once a second: not the 600 of --stuck-after"
    assert process.returncode == 128 + signal.SIGKILL
    assert _starts(tmp_path) == 1, "a stop is not restarted"
    assert b"supervised command stuck" in log


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_with_stuck_after_0_a_stuck_command_is_left_alone(tmp_path: Path, supervise: Supervise) -> None:
    process = supervise("wedge", "0", stuck_after=0)
    _wait_for_mark(tmp_path, lambda text: text.startswith("ready"))
    process.send_signal(signal.SIGTERM)
    time.sleep(6)  # a watch, while stopping, would have killed it after 3 s, looking once a second

    assert process.poll() is None
    assert _starts(tmp_path) == 1
    _kill_wedged(tmp_path)
    _, log = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGKILL, "stopping: not restarted"
    assert b"supervised command stuck" not in log


# A Dramatiq broker module whose first worker process is killed in the middle of Dramatiq's own boot
# hand-shake, as Event.set has woken the main process and still holds the Event's lock, which the main
# process must take back; the next start boots as usual.
WEDGING_BROKER = """
import multiprocessing.synchronize, os, signal
from pathlib import Path
import dramatiq
from dramatiq.brokers.stub import StubBroker

dramatiq.set_broker(StubBroker())

def set_then_die(event):
    with event._cond:
        event._flag.acquire(False)
        event._flag.release()
        event._cond.notify_all()  # returns once the main process has woken
        os.kill(os.getpid(), signal.SIGKILL)

if not Path("wedged-once").exists():
    Path("wedged-once").touch()
    multiprocessing.synchronize.Event.set = set_then_die
"""


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads process states from /proc")
def test_dramatiq_wedged_by_a_worker_process_killed_as_it_came_up_is_started_again(tmp_path: Path) -> None:
    (tmp_path / "wedging_broker.py").write_text(WEDGING_BROKER)
    dramatiq = [str(BIN / "dramatiq"), "wedging_broker", "--processes", "1", "--threads", "1"]
    command = [str(BIN / "docfleet"), "supervise", "--stuck-after", "2", "--", *dramatiq]
    log = tmp_path / "log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=tmp_path, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"Worker process is ready for action" not in log.read_bytes():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:  # Dramatiq's main process in a group of its own, wedged deaf to its supervisor's death
        for group in [process.pid, *_started_pids(log)]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)

    text = log.read_text()
    assert process.returncode == 0, text
    assert text.count("supervised command started") == 2
    assert text.count("supervised command stuck") == 1


def _started_pids(log: Path) -> list[int]:
    lines = log.read_text().splitlines()
    return [json.loads(line)["pid"] for line in lines if "supervised command started" in line]
