"""The ``docfleet`` command line (console script ``docfleet = workers.cli:main``; the Typer application
is ``workers.cli.app.app``).

The application is imported when it is first used, not with this package: loading it takes most of a
second, and a Ctrl-C meanwhile ends as one while a command runs (one line, exit 130), not as a traceback.
``docfleet worker`` never loads it (``workers.cli.worker``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

INTERRUPTED = 130  # as ``workers.cli.failures.ExitCode.INTERRUPTED``, which is not loaded yet


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["worker"]:  # without the rest, which each worker process would carry
            from workers.cli.worker import run_worker

            raise SystemExit(run_worker(args[1:]))
        from workers.cli.app import main as run
    except KeyboardInterrupt:  # before Dramatiq's own handlers, or the application's, are in place
        sys.stderr.write("docfleet: interrupted\n")
        raise SystemExit(INTERRUPTED) from None
    run(argv)


__all__ = ["main"]
