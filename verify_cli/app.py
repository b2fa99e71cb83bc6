"""The ``verify`` command: parse, call the library, render, exit."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand

from provenance import __version__ as provenance_version
from verify_cli.exit_codes import ExitCode
from verify_cli.guard import guarded

__all__ = ["app", "main"]

app = typer.Typer(
    name="verify",
    help="Check where a picture or video comes from, and mark what you publish.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # -h as well as --help, on every command (click passes it down to sub-contexts).
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        import c2pa  # lazy: loads the native library, only for --version

        typer.echo(f"verify (jinjja) {provenance_version}, c2pa-python {c2pa.sdk_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Check where a picture or video comes from, and mark what you publish."""


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


class _PlainCommand(TyperCommand):
    """A command whose help names values as users of git or exiftool expect (``FILE``,
    ``INTEGER``, ``[json|csv]``) instead of typer's ``<str>``/``<int range>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ctx = typer.Context(self)
        for param in self.params:
            if param.metavar is None and not getattr(param, "is_flag", False):
                param.metavar = _metavar(param, param.display_type(ctx))  # type: ignore[attr-defined]
            if isinstance(param, TyperArgument):  # the name says it all: no "<path>" after it
                param.display_type_rich = _no_type  # type: ignore[attr-defined]


def _no_type(ctx: typer.Context | None = None) -> None:
    return None


_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "file": "FILE"}


def _metavar(param: Any, shown: str | None) -> str:
    if isinstance(param, TyperArgument):
        return (param.name or "value").upper() + ("..." if param.nargs != 1 else "")
    inner = (shown or "text").strip("<>").removesuffix(" range")
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    if "|" in inner:
        return f"[{inner}]"
    return _TYPE_NAMES.get(inner.lower(), inner.upper())


def _plain_help(group: typer.Typer) -> None:
    """Run every command inside :func:`verify_cli.guard.guarded`, with click's plain help:
    it wraps paragraphs to the terminal's width (also at 80 columns) and names values
    plainly (see :class:`_PlainCommand`)."""
    group.rich_markup_mode = None
    for command in group.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = _PlainCommand
        if command.callback is not None and not hasattr(command.callback, "__wrapped__"):
            command.callback = guarded(command.callback)
    for info in group.registered_groups:
        if info.typer_instance is not None:
            _plain_help(info.typer_instance)


_plain_help(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(ExitCode.INTERRUPTED)
