"""The ``verify`` command: parse, call the library, render, exit."""

from __future__ import annotations

import importlib
import sys

import typer

from verify_cli.exit_codes import ExitCode

__all__ = ["app", "main"]

app = typer.Typer(
    name="verify",
    help="Check where a picture or video comes from, and mark what you publish.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each command group lives in its own module and exposes `register(app)`.
_COMMAND_MODULES = (
    "verify_cli.check",
    "verify_cli.trust",
    "verify_cli.watermark",
    "verify_cli.bank",
    "verify_cli.sign",
    "verify_cli.serve",
    "verify_cli.monitor",
)

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a command group not present in this build
        if exc.name != _name:
            raise
        continue
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(ExitCode.INTERRUPTED)
