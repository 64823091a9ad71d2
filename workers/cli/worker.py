"""``docfleet worker``: the fleet's worker command, ``dramatiq workers.actors`` with Dramatiq's own
options, whose main process logs as every docfleet process does.

Under ``dramatiq`` itself, the main process's lines (booting up, the signals it forwards, a worker
process that died) and a worker process's before it boots came in Dramatiq's plain format, at
Dramatiq's level whatever ``LOG_LEVEL`` said. Here the options are read, then the settings (a bad one
is told in one line, exit 2, before any worker process starts), docfleet's logging is set up, and
Dramatiq's main runs with ``--skip-logging``: its processes inherit that set-up until each one's
middleware makes its own. Dramatiq's ``--log-file`` would take the worker processes' lines and not the
main process's: refused.

The ``docfleet`` console script runs this without loading the rest of the command line (``workers.cli``):
the worker processes are forked from this one, and would each carry it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from workers.cli.failures import CliError, ExitCode, load_settings

BROKER_MODULE = "workers.actors"
ABOUT = (
    "Runs docfleet's worker processes: Dramatiq's worker on workers.actors (given for you; a module named"
    " here is loaded after it), with any of Dramatiq's options below. Every line is docfleet's, at"
    " LOG_LEVEL: --skip-logging is always on, --verbose plays no part, --log-file is refused."
)

EXAMPLE = """example:

  # As the Procfile runs it: two processes of 32 threads, 20 s for a clean stop's drain.
  $ docfleet worker --processes 2 --threads 32 --worker-shutdown-timeout 20000
"""


def run_worker(options: Sequence[str]) -> int:
    """Dramatiq's main on ``BROKER_MODULE`` with ``options``; its exit code."""
    from dramatiq.cli import main

    from workers.logging import configure_logging

    args = _parsed(options)
    if args.log_file is not None:
        return _refused("--log-file is not taken: every line goes to stderr")
    try:
        settings = load_settings()
    except CliError as error:  # a bad setting, told as every docfleet command tells it
        sys.stderr.write(f"docfleet: {error}\n")
        return error.exit_code
    configure_logging(settings.log_level)
    return int(main(args) or 0)  # type: ignore[no-untyped-call]


def _parsed(options: Sequence[str]) -> argparse.Namespace:
    """Dramatiq's own parser, its usage docfleet's, a mistake told in one line (exit 2)."""
    from dramatiq.cli import make_argument_parser

    parser = make_argument_parser()  # type: ignore[no-untyped-call]
    parser.prog, parser.description = "docfleet worker", ABOUT
    parser.usage = "docfleet worker [MODULE...] [DRAMATIQ OPTION...]"
    parser.epilog = EXAMPLE  # in place of Dramatiq's examples, which run ``dramatiq some_module``
    parser.error = _refused
    namespace: argparse.Namespace = parser.parse_args([BROKER_MODULE, *options, "--skip-logging"])
    return namespace


def _refused(problem: str) -> NoReturn:
    sys.stderr.write(f"docfleet: worker: {problem}\n")
    raise SystemExit(ExitCode.USAGE)
