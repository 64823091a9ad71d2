"""``docfleet supervise``: restarts a failed command, not a clean one, and stops with it on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.supervised import Supervise, starts, wait_for_mark
from tests.e2e.fleet import BIN
from tests.support.processes import running


def test_a_failed_or_killed_command_is_restarted_until_it_exits_cleanly(
    tmp_path: Path, supervise: Supervise
) -> None:
    process = supervise("3", "kill", "1", "1", "0")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert starts(tmp_path) == 5
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
    assert starts(tmp_path) == 1
    [exited] = [json.loads(line) for line in log.splitlines() if b"supervised command exited" in line]
    assert (exited["code"], exited["restart"]) == (0, False)


def test_with_restart_always_a_clean_exit_not_asked_for_is_restarted_too(
    tmp_path: Path, supervise: Supervise
) -> None:
    """Dramatiq's main process exits 0 once one worker process drained after a stray SIGTERM."""
    process = supervise("0", "0", "2", restart="always")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 2, "exit code 2 still ends it"
    assert starts(tmp_path) == 3
    unasked = [json.loads(line) for line in log.splitlines() if b"supervised command exited unasked" in line]
    assert [(line["code"], line["restart_in_s"]) for line in unasked] == [(0, 0.05), (0, 0.1)]


def test_with_restart_always_a_stop_still_ends_it(tmp_path: Path, supervise: Supervise) -> None:
    process = supervise("wait", restart="always")
    wait_for_mark(tmp_path, lambda text: text == "ready")
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert starts(tmp_path) == 1
    assert b"exited unasked" not in log


def test_with_restart_never_a_failure_ends_it_with_the_command_s_code(
    tmp_path: Path, supervise: Supervise
) -> None:
    """As in a container, whose platform restarts what exits."""
    process = supervise("3", "0", restart="never")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 3
    assert starts(tmp_path) == 1
    [failed] = [json.loads(line) for line in log.splitlines() if b"supervised command failed" in line]
    assert (failed["code"], failed["restart"]) == (3, False)


def test_a_command_that_cannot_start_is_not_restarted(tmp_path: Path, supervise: Supervise) -> None:
    """Exit code 2: a bad option, argument, setting or module, for docfleet's commands and Dramatiq."""
    process = supervise("1", "2", "0")
    _, log = process.communicate(timeout=60)

    assert process.returncode == 2
    assert starts(tmp_path) == 2, "restarted after code 1, not after code 2"
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
    assert starts(tmp_path) == 1
    assert b"forwarding signal" in log


def test_sighup_is_passed_on_and_is_no_stop(tmp_path: Path, supervise: Supervise) -> None:
    """Dramatiq's reload; as PID 1 of a container the supervisor would otherwise drop it. Here the
    child fails on it, and is restarted: a stop would not have been."""
    process = supervise("hup", "0")
    wait_for_mark(tmp_path, lambda text: text == "ready")
    process.send_signal(signal.SIGHUP)
    _, log = process.communicate(timeout=30)

    assert process.returncode == 0
    assert starts(tmp_path) == 2
    assert (tmp_path / "marks").read_text() == "ready SIGHUP"
    assert b'"signal":"SIGHUP"' in log


def test_sighup_during_a_stop_is_not_passed_on(tmp_path: Path, supervise: Supervise) -> None:
    """Dramatiq would take it for a reload, and boot again instead of finishing its drain."""
    process = supervise("hup")
    wait_for_mark(tmp_path, lambda text: text == "ready")
    process.send_signal(signal.SIGTERM)
    wait_for_mark(tmp_path, lambda text: "SIGTERM" in text)  # the child holds its stop until released
    process.send_signal(signal.SIGHUP)
    time.sleep(0.5)  # for the supervisor's handler, before the child exits
    (tmp_path / "release").touch()
    _, log = process.communicate(timeout=30)

    assert process.returncode == 0
    assert (tmp_path / "marks").read_text() == "ready SIGTERM"
    assert b"not forwarding signal: stopping" in log


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads process states from /proc")
def test_what_a_killed_command_left_running_is_stopped_before_it_is_started_again(
    tmp_path: Path, supervise: Supervise
) -> None:
    """As Dramatiq's worker processes outlive a main process killed alone: they would go on consuming
    beside the fleet started next."""
    process = supervise("orphan", "0")
    left = int(wait_for_mark(tmp_path, str.isdigit))
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0
    assert starts(tmp_path) == 2
    assert not running(left)
    [stopped] = [json.loads(line) for line in log.splitlines() if b"left running" in line]
    assert stopped["processes"] == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_supervisor_killed_outright_has_its_command_stopped_gracefully(
    tmp_path: Path, supervise: Supervise
) -> None:
    process = supervise("wait")
    wait_for_mark(tmp_path, lambda text: text == "ready")

    process.kill()

    assert wait_for_mark(tmp_path, lambda text: text == "SIGTERM") == "SIGTERM"


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
    wait_for_mark(tmp_path, lambda text: text == "ready")

    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)

    assert process.returncode == 0
    assert (tmp_path / "sigterms").read_text() == "1"
