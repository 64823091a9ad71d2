"""The ``docfleet`` command line (console script ``docfleet = workers.cli:main``)."""

from workers.cli.app import app, main

__all__ = ["app", "main"]
