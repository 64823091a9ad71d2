"""Which runs' metric directories a joining process removes: only those no live process is a member of."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import dead_pid
from workers.metrics.fleet_run import MULTIPROC_ENV, ROOT_NAME, FleetRun


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    # join() points prometheus_client at its run: set here, so that the test's end restores it as it was
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path / "not-yet-joined"))
    return tmp_path / ROOT_NAME


@pytest.fixture
def joined(root: Path) -> Iterator[FleetRun]:
    run = FleetRun(root / f"{os.getppid()}-ours", os.getppid())
    yield run
    run.leave()


def a_run(root: Path, parent_pid: int, *, member_alive: bool) -> tuple[Path, int | None]:
    """A run's directory with one member file, whose lock is held (by an open description of this
    process, as a live member's would be) or not; the descriptor holding it."""
    run = root / f"{parent_pid}-0123456789abcdef"
    run.mkdir(parents=True)
    member = os.open(run / ".member-4242", os.O_RDWR | os.O_CREAT, 0o600)
    if not member_alive:
        os.close(member)
        return run, None
    fcntl.flock(member, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return run, member


def test_a_run_of_a_parent_with_our_parents_pid_is_kept_while_a_member_lives(
    root: Path, joined: FleetRun
) -> None:
    """Another container's fleet, sharing the temporary directory, whose parent is pid 1 as ours is."""
    run, member = a_run(root, os.getppid(), member_alive=True)
    try:
        joined.join()
        assert run.exists()
    finally:
        assert member is not None
        os.close(member)


def test_a_run_of_a_parent_with_our_parents_pid_and_no_live_member_is_removed(
    root: Path, joined: FleetRun
) -> None:
    """The run a killed fleet left behind, in a container restarted with the same pids."""
    run, _ = a_run(root, os.getppid(), member_alive=False)

    joined.join()

    assert not run.exists()
    assert joined.path.exists()


def test_a_run_whose_parent_is_gone_is_removed_once_no_member_lives(root: Path, joined: FleetRun) -> None:
    parent = dead_pid()
    run, member = a_run(root, parent, member_alive=True)
    try:
        joined.join()
        assert run.exists(), "a member outlived its parent, or the parent is in another pid namespace"
    finally:
        assert member is not None
        os.close(member)

    following = FleetRun(root / f"{os.getppid()}-next", os.getppid())
    following.join()
    following.leave()

    assert not run.exists()


def _join_hold_and_leave(root: str, token: str, joined: Any, checked: Any) -> None:
    """In a child process: join a run of parent pid 1, as every container's fleet has, and check it is
    still there once every other child has joined (and so cleaned up) too."""
    run = FleetRun(Path(root) / f"1-{token}", 1)
    try:
        run.join()
        joined.wait(20)
        intact = run.path.is_dir() and (run.path / f".member-{os.getpid()}").exists()
        checked.wait(20)
        run.leave()
    except BaseException:
        os._exit(2)
    os._exit(0 if intact else 1)


def test_fleets_that_start_together_never_remove_one_anothers_runs(root: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_number in range(15):
        joined, checked = context.Barrier(6), context.Barrier(6)
        children = [
            context.Process(
                target=_join_hold_and_leave, args=(str(root), f"{round_number}-{n}", joined, checked)
            )
            for n in range(6)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(60)

        assert [child.exitcode for child in children] == [0] * 6, f"round {round_number}"


def test_another_live_member_is_told_from_this_process_itself(root: Path, joined: FleetRun) -> None:
    joined.join()
    assert joined.has_members()
    assert not joined.has_other_members()

    other = os.open(joined.path / ".member-4242", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held as a live worker process holds its own
        assert joined.has_other_members()
    finally:
        os.close(other)
    assert not joined.has_other_members()
