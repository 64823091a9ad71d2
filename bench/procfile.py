"""The fleet as a container runtime runs it: the Procfile's commands, each straight to a log file.

``make run`` starts the same commands under honcho, which relays every line they print through a
Python process of its own. That relay is a development convenience, and the no-op ceiling is measured
without one, so the fleet is measured without one too.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from bench.procs import ROOT


def procfile_commands(names: list[str], procfile: Path = ROOT / "Procfile") -> dict[str, str]:
    """The command line of each named process type, as the Procfile has it."""
    commands: dict[str, str] = {}
    for line in procfile.read_text().splitlines():
        name, separator, command = line.partition(":")
        if separator and name.strip() in names:
            commands[name.strip()] = command.strip()
    missing = [name for name in names if name not in commands]
    if missing:
        raise RuntimeError(f"the Procfile has no {missing}")
    return commands


def fleet_command(names: list[str], workdir: Path, prefix: str) -> tuple[list[str], dict[str, Path]]:
    """One shell that starts every named process in the background, each writing ``<workdir>/<prefix>-
    <name>.log``, and waits for them all; its process group is the fleet's. Also the log of each."""
    logs = {name: workdir / f"{prefix}-{name}.log" for name in names}
    started = [
        f"{command} > {shlex.quote(str(logs[name]))} 2>&1 &"
        for name, command in procfile_commands(names).items()
    ]
    return ["sh", "-c", " ".join([*started, "wait"])], logs
