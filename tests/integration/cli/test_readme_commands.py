"""Every ``$ verify ...`` line in the README names a real subcommand and real options.

The README is the first thing a journalist or a fact-checker copies from; a renamed option
must fail here, not in their terminal.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from verify_cli.app import app

README = Path(__file__).resolve().parents[3] / "README.md"
_OPTION = re.compile(r"^--[a-z][a-z0-9-]*")


def _readme_commands() -> list[str]:
    commands = []
    for line in README.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("$ verify "):
            command = stripped[2:].split("#", 1)[0].split("|", 1)[0].split(";", 1)[0]
            commands.append(command.strip())
    return commands


def _group_names() -> set[str]:
    return {g.name for g in app.registered_groups if g.name}


@pytest.mark.parametrize("command", _readme_commands())
def test_readme_command_uses_real_options(command: str) -> None:
    words = shlex.split(command.replace("[", " ").replace("]", " "))[1:]  # drop "verify"
    path = [words[0]]
    if words[0] in _group_names() and len(words) > 1:
        path.append(words[1])
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, f"'verify {' '.join(path)}' does not exist: {result.output}"
    known = set(re.findall(r"--[a-z][a-z0-9-]*", result.output))
    used = {m.group(0) for w in words if (m := _OPTION.match(w))}
    missing = used - known
    assert not missing, f"README uses options that 'verify {' '.join(path)}' lacks: {missing}"


def test_readme_shows_commands() -> None:
    assert len(_readme_commands()) >= 10
