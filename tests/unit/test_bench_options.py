"""The benchmark's options: a JSON path it could not write is refused before any run, not after."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.options import parse_args


def test_a_json_path_in_a_missing_folder_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--json", str(tmp_path / "missing" / "results.json")])

    assert exit_info.value.code == 2
    assert "not a file that can be written" in capsys.readouterr().err


def test_a_json_path_that_is_a_folder_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--json", str(tmp_path)])

    assert exit_info.value.code == 2


def test_a_json_path_in_an_existing_folder_is_taken(tmp_path: Path) -> None:
    assert parse_args(["--json", str(tmp_path / "results.json")]).json_path == tmp_path / "results.json"
