"""Ctrl-C while the ``docfleet`` console script is still loading its application."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest

import workers.cli


class _InterruptedImport(importlib.abc.MetaPathFinder):
    """Raises KeyboardInterrupt when the application module is imported, as a Ctrl-C then would."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        if name == "workers.cli.app":
            raise KeyboardInterrupt


def test_a_ctrl_c_while_the_application_loads_says_interrupted_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "workers.cli.app", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptedImport(), *sys.meta_path])

    with pytest.raises(SystemExit) as exited:
        workers.cli.main(["--help"])

    assert exited.value.code == 130
    assert capsys.readouterr().err == "docfleet: interrupted\n"
