"""Fixtures for the command-line tests: an isolated data directory and a runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provenance.check import Checker
from provenance.report import Report


@pytest.fixture(autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``JINJJA_DATA_DIR`` at a temporary store that lists no trust list (never the
    real home; not the shipped snapshots either: remove ``trust.json`` to get those)."""
    path = tmp_path_factory.mktemp("jinjja-data")
    (path / "trust.json").write_text('{"schema": "jinjja.trust/v1", "lists": []}\n')
    monkeypatch.setenv("JINJJA_DATA_DIR", str(path))
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def fake_check(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Report]], list]]:
    """Replace ``Checker.check`` by a lookup of hand-built reports by file name.

    Returns a function ``install(reports_by_name)`` that returns the list of calls
    (path, the checker's options as a dict) the command made.
    """
    calls: list[tuple[Path, dict[str, Any]]] = []

    def install(reports: dict[str, Report]) -> list[tuple[Path, dict[str, Any]]]:
        def check(self: Checker, path: Path, *, name: str | None = None) -> Report:
            options = {f.name: getattr(self.options, f.name) for f in fields(self.options)}
            calls.append((Path(path), options))
            return reports[Path(path).name]

        monkeypatch.setattr(Checker, "check", check)
        return calls

    yield install
