"""The ``docfleet`` command line (console script ``docfleet = workers.cli:main``; the Typer application
is ``workers.cli.app.app``).

The application is imported when it is first used, not with this package: loading it takes most of a
second, and a Ctrl-C meanwhile ends as one while a command runs (one line, exit 130), not as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

INTERRUPTED = 130  # as ``workers.cli.failures.ExitCode.INTERRUPTED``, which is not loaded yet


def main(argv: Sequence[str] | None = None) -> None:
    try:
        from workers.cli.app import main as run
    except KeyboardInterrupt:
        sys.stderr.write("docfleet: interrupted\n")
        raise SystemExit(INTERRUPTED) from None
    run(argv)


__all__ = ["main"]
