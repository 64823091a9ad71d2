"""``docfleet worker``: the fleet's worker command, ``dramatiq workers.actors`` with Dramatiq's own
options, whose main process logs as every docfleet process does.

Under ``dramatiq`` itself, the main process's lines (booting up, the signals it forwards, a worker
process that died) and a worker process's before it boots came in Dramatiq's plain format, at
Dramatiq's level whatever ``LOG_LEVEL`` said. Here the settings are read first (a bad one is told in one
line, exit 2, before any worker process starts), docfleet's logging is set up, and Dramatiq's main runs
with ``--skip-logging``: its processes inherit that set-up until each one's middleware makes its own.
Dramatiq's ``--log-file`` would take the worker processes' lines and not the main process's: refused.

The ``docfleet`` console script runs this without loading the rest of the command line (``workers.cli``):
the worker processes are forked from this one, and would each carry it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

BROKER_MODULE = "workers.actors"
USAGE = 2


def run_worker(options: Sequence[str]) -> int:
    """Dramatiq's main on ``BROKER_MODULE`` with ``options``; its exit code."""
    from dramatiq.cli import main, make_argument_parser

    from workers.logging import configure_logging
    from workers.settings import InvalidSettings, Settings

    try:
        settings = Settings.from_env()
    except InvalidSettings as error:
        sys.stderr.write(f"docfleet: invalid setting: {error}\n")
        return USAGE
    parser = make_argument_parser()  # type: ignore[no-untyped-call]
    parser.prog = "docfleet worker"
    args = parser.parse_args([BROKER_MODULE, *options, "--skip-logging"])
    if args.log_file is not None:
        sys.stderr.write("docfleet: worker: --log-file is not taken: every line goes to stderr\n")
        return USAGE
    configure_logging(settings.log_level)
    return int(main(args) or 0)  # type: ignore[no-untyped-call]
