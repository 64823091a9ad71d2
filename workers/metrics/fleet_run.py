"""The directory of one fleet run's metric files: prometheus_client's multiprocess mode, scoped and cleaned.

Every process of one ``dramatiq`` run (its worker processes and the exposition process it forks) shares
the parent's pid and the parent's multiprocessing ``authkey``, random per run and inherited by every child
process; together they name the run's directory, ``$TMPDIR/docfleet-metrics/<parent pid>-<token>``, so two
fleets on one machine never mix their counts, and a restarted fleet (same pid in a container) starts
from zero. Each process joins the run when it boots and leaves it when it stops; the last one out removes
the directory. A run that was killed leaves its directory behind: the next run on the machine removes it,
once none of its processes lives.
Membership uses ``fcntl`` locks: Linux and macOS.
"""

from __future__ import annotations

import fcntl
import hashlib
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT_NAME = "docfleet-metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_MEMBER_PREFIX = ".member-"
_RUNS_LOCK = ".runs.lock"


class FleetRun:
    def __init__(self, path: Path, parent_pid: int) -> None:
        self.path = path
        self.parent_pid = parent_pid
        self._membership: int | None = None  # a descriptor of our member file, locked while we live

    @classmethod
    def current(cls) -> FleetRun:
        """The run of this process's ``dramatiq`` parent."""
        parent = os.getppid()
        authkey = bytes(multiprocessing.current_process().authkey)
        token = hashlib.sha256(authkey).hexdigest()[:16]
        return cls(Path(tempfile.gettempdir()) / ROOT_NAME / f"{parent}-{token}", parent)

    def join(self) -> None:
        """Removes stale runs, creates this run's directory, becomes a member of the run (a locked file:
        the lock goes when the process does, however it ends), and points prometheus_client's
        multiprocess mode at the directory, for the metrics created from now on."""
        with self._runs_locked():
            self._remove_stale_runs()
            self.path.mkdir(parents=True, exist_ok=True)
            member = os.open(self.path / f"{_MEMBER_PREFIX}{os.getpid()}", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(member, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._membership = member
        os.environ[MULTIPROC_ENV] = str(self.path)

    def leave(self) -> None:
        """Stops being a member; the last member out removes the directory and every file in it."""
        with self._runs_locked():
            (self.path / f"{_MEMBER_PREFIX}{os.getpid()}").unlink(missing_ok=True)
            if self._membership is not None:
                os.close(self._membership)
                self._membership = None
            if not self.has_members():
                shutil.rmtree(self.path, ignore_errors=True)

    @contextmanager
    def _runs_locked(self) -> Iterator[None]:
        """Joining, leaving and removing stale runs, one process at a time on the machine: else a run
        could be judged memberless between its directory's creation and its first member's lock, and
        the probe of a member's lock could take it from the member locking it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.path.parent / _RUNS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)

    def has_members(self, *, besides: int | None = None) -> bool:
        """Whether a live process (other than the one of pid ``besides``) is still a member: one holds the
        lock of its member file."""
        others = [member for member in self._member_files() if member.name != f"{_MEMBER_PREFIX}{besides}"]
        return any(_locked(member) for member in others)

    def forget_dead_members(self) -> list[int]:
        """The pids of members gone without leaving (killed: a SIGKILL runs no shutdown hook), their
        member files removed: each is told once."""
        with self._runs_locked():
            dead = [member for member in self._member_files() if not _locked(member)]
            for member in dead:
                member.unlink(missing_ok=True)
        return [int(pid) for member in dead if (pid := member.name.removeprefix(_MEMBER_PREFIX)).isdigit()]

    def _member_files(self) -> list[Path]:
        """The run's member files, one a process that joined and has not left; none once it is removed."""
        try:
            return [entry for entry in self.path.iterdir() if entry.name.startswith(_MEMBER_PREFIX)]
        except FileNotFoundError:
            return []

    def has_other_members(self) -> bool:
        """Whether a live process other than this one is still a member of the run."""
        with self._runs_locked():
            return self.has_members(besides=os.getpid())

    def _remove_stale_runs(self) -> None:
        """Runs whose parent is gone, or that an earlier parent with this parent's pid left behind, unless
        a live process is still a member: containers that share a temporary directory see one another's
        runs, with parents of the same pid (often 1) that are not theirs to judge."""
        try:
            runs = list(self.path.parent.iterdir())
        except FileNotFoundError:
            return
        for run in runs:
            parent, _, _ = run.name.partition("-")
            if run == self.path or not parent.isdigit():
                continue
            left_behind = int(parent) == self.parent_pid or not is_alive(int(parent))
            if left_behind and not FleetRun(run, int(parent)).has_members():
                shutil.rmtree(run, ignore_errors=True)


def _locked(member: Path) -> bool:
    try:
        descriptor = os.open(member, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
