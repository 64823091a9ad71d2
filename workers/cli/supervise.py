"""``docfleet supervise -- COMMAND...``: keeps one command running, as the Procfile's worker and relay.

Dramatiq's parent process exits as soon as one of its worker processes dies, and honcho then stops the
whole fleet. The supervisor runs the command as its child and starts it again whenever it exits abnormally
(a non-zero code or a signal), after a capped exponential backoff that starts over once the child has run
for a while. SIGTERM and SIGINT are forwarded to the child; the supervisor then waits for it and exits
with its code, without restarting it. SIGHUP, Dramatiq's reload in place, is passed on, unless a stop is
under way. A clean exit (code 0) ends the supervisor with code 0, unless ``--restart always``: a
long-running command (the Procfile's) that exits cleanly without being asked was stopped by someone else,
Dramatiq's main process as soon as one of its worker processes drained after a stray SIGTERM, and the
fleet would stay down. Exit code 2 ends the supervisor with code 2
either way: docfleet's commands and Dramatiq both exit 2 for a bad option, argument, setting or
module, which no restart mends. A worker against a database not migrated to its version exits 75
(``workers.schema_gate``), and is restarted as any failure is, until ``docfleet migrate`` has run.

The child runs in a process group of its own, which its processes keep even once their parent is gone:
Dramatiq's worker processes outlive a main process killed alone, and would go on consuming beside the
fleet started next. Before any restart, and after a stop, whatever is left of the group is stopped
(``stop_group``). On Linux the supervisor also takes in those orphans (a child subreaper, so that it can
tell when they have exited), and the child is sent SIGTERM if the supervisor itself dies.

A child stuck for good is killed, and started again as a failure (``--stuck-after``, ``workers.cli.stuck``):
Dramatiq's main process, when a worker process was killed as it came up, neither exits nor takes SIGTERM.
With ``--restart never`` (containers, where the platform restarts what exits) the supervisor exits with
the child's code instead of starting it again, keeping the rest: forwarding, the watch, the group's stop.
"""

from __future__ import annotations

import signal
import subprocess
import time
from types import FrameType
from typing import Annotated

import structlog
import typer

from workers.backoff import Backoff
from workers.cli import orphans
from workers.cli.failures import ExitCode, load_settings
from workers.cli.restart_policy import Restart, RestartPolicy
from workers.cli.stuck import since_boot, wait_unless_stuck
from workers.stopping import SignalStop

log = structlog.get_logger("docfleet.supervise")

SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
CANNOT_START = ExitCode.USAGE  # 2, also Dramatiq's RET_IMPORT (its own arguments, or an import)


def register(app: typer.Typer) -> None:
    app.command(short_help="Run a command; restart it when it fails.", context_settings=SETTINGS)(supervise)


def supervise(
    command: Annotated[list[str], typer.Argument(metavar="COMMAND", help="The command to run, after `--`.")],
    backoff_initial: Annotated[float, typer.Option(min=0.01, help="Seconds before the first restart.")] = 0.5,
    backoff_max: Annotated[float, typer.Option(min=0.01, help="The longest wait between restarts.")] = 10.0,
    healthy_after: Annotated[
        float,
        typer.Option(min=0.0, help="Seconds of running after which a failure waits the first wait again."),
    ] = 30.0,
    restart: Annotated[
        Restart,
        typer.Option(
            help="on-failure: not after a clean exit; always: after any exit not asked for;"
            " never: exit with the command's code (where the platform restarts it)."
        ),
    ] = Restart.ON_FAILURE,
    stuck_after: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Seconds after which a command that blocks SIGTERM while a process it started lies dead"
            " and unreaped is killed, as a failure (above Dramatiq's --worker-fork-timeout); 0: never.",
        ),
    ] = RestartPolicy.stuck_after,
) -> None:
    """Run COMMAND, restart it when it fails (unless --restart never), forward signals; exit with its code.

    \b
    Example (the Procfile's relay):
      docfleet supervise --restart always -- docfleet relay
    """
    from workers.logging import configure_logging

    if backoff_initial > backoff_max:
        raise typer.BadParameter(
            f"{backoff_initial:g} s is longer than --backoff-max ({backoff_max:g} s), the longest wait",
            param_hint="'--backoff-initial'",
        )
    configure_logging(load_settings().log_level)
    policy = RestartPolicy(
        backoff_initial,
        backoff_max,
        healthy_after,
        after_clean_exit=restart is Restart.ALWAYS,
        after_failure=restart is not Restart.NEVER,
        stuck_after=stuck_after,
    )
    raise typer.Exit(Supervisor(command, policy).run())


class Supervisor:
    def __init__(self, command: list[str], policy: RestartPolicy) -> None:
        self._command = command
        self._policy = policy
        self._stopping = SignalStop()  # set from the signal handler: a plain store, no lock
        self._child: subprocess.Popen[bytes] | None = None
        self._signals = 0  # stop signals received

    def run(self) -> int:
        """Runs the command until it exits cleanly, a stop signal came, or (``--restart never``) it exits
        at all; the child's last exit code."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._forward)
        signal.signal(signal.SIGHUP, self._pass_on)
        orphans.adopt_orphans()
        delays = Backoff(self._policy.initial, self._policy.maximum)
        while True:
            started = time.monotonic()
            code = self._run_once()
            if code is None:  # could not be run at all: told already, and no restart would help
                return CANNOT_START
            ran_for = time.monotonic() - started
            if self._ends_with(code, round(ran_for, 1)):
                return code
            if ran_for >= self._policy.healthy_after:
                delays.reset()
            delay = delays.next_delay()
            event = "supervised command exited unasked" if code == 0 else "supervised command failed"
            log.warning(event, code=code, ran_for_s=round(ran_for, 1), restart_in_s=delay)
            if self._stopping.wait(delay):
                return code

    def _ends_with(self, code: int, ran_for_s: float) -> bool:
        """Whether the supervisor exits with the child's ``code`` rather than start it again; said if so."""
        if self._stopping.is_set() or (code == 0 and not self._policy.after_clean_exit):
            log.info("supervised command exited", code=code, ran_for_s=ran_for_s, restart=False)
            return True
        if code == CANNOT_START:
            log.error(
                "supervised command cannot start",
                code=code,
                reason="a bad option, argument, setting or module: its own lines above say which",
                restart=False,
            )
            return True
        if not self._policy.after_failure:
            log.warning("supervised command failed", code=code, ran_for_s=ran_for_s, restart=False)
            return True
        return False

    def _run_once(self) -> int | None:
        """The child's exit code; None if it could not be started."""
        started_at = since_boot()
        try:
            self._child = subprocess.Popen(
                self._command, process_group=0, preexec_fn=orphans.stop_with_parent
            )
        except OSError as error:  # no such program, not executable: no restart would change that
            log.error(
                "supervised command cannot be run", command=self._command, error=error.strerror, restart=False
            )
            return None
        log.info("supervised command started", pid=self._child.pid, command=self._command)
        if self._stopping.is_set():  # a signal came while the child was being started
            self._child.send_signal(signal.SIGTERM)
        code = wait_unless_stuck(self._child, self._policy.stuck_after, started_at, self._stopping.is_set)
        signals_before = self._signals
        left = orphans.stop_group(
            self._child.pid, self._policy.orphans_grace, hurry=lambda: self._signals > signals_before
        )
        if left:
            log.warning("stopped what the supervised command left running", processes=left)
        return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell reports it

    def _pass_on(self, signum: int, _frame: FrameType | None) -> None:
        """SIGHUP: Dramatiq's reload, in place. Passed on, not a stop: as PID 1 of a container the
        supervisor would otherwise drop it (a command with no handler for it exits, and is restarted)."""
        child = self._child
        if self._stopping.is_set():  # Dramatiq would reload instead of finishing its drain
            log.info("not forwarding signal: stopping", signal=signal.Signals(signum).name)
        elif child is not None and child.poll() is None:
            log.info("forwarding signal", signal=signal.Signals(signum).name, pid=child.pid)
            child.send_signal(signum)

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping.set()
        self._signals += 1  # a plain store, as the flag's: read by stop_group's ``hurry``
        child = self._child
        if child is not None and child.poll() is None:
            # To the child alone, which passes it on: Dramatiq's worker processes take a second SIGTERM
            # for "kill now", and would drop the messages they are running.
            log.info("forwarding signal", signal=signal.Signals(signum).name, pid=child.pid)
            child.send_signal(signum)
