"""The one place that turns what a command lets escape into a line and an exit code.

Commands handle the errors they expect (a file that cannot be read gets its record and
the batch goes on). Whatever still escapes a command ends here: a library error becomes
``verify: <path>: <message>`` (or ``verify: <message>``) with exit 3, or 2 for a
certificate or configuration that cannot be used; anything else is a bug, said in one
line with exit 4 (the traceback with ``--verbose``); Ctrl-C exits with 130.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from provenance.errors import (
    CertificateError,
    ProvenanceError,
    TrustStoreError,
    error_record,
)
from verify_cli.exit_codes import ExitCode

__all__ = ["exit_code_for", "guarded", "problem_line"]

F = TypeVar("F", bound=Callable[..., Any])

_USAGE_ERRORS = (CertificateError, TrustStoreError)


def exit_code_for(exc: ProvenanceError) -> ExitCode:
    """The exit code of a library error that ends a command."""
    return ExitCode.USAGE if isinstance(exc, _USAGE_ERRORS) else ExitCode.INPUT_ERROR


def problem_line(path: object | None, message: str) -> str:
    """``verify: <path>: <message>``, naming the path once even when the message does."""
    if path is None or str(path) == "" or message.startswith(f"{path}:"):
        return f"verify: {message}"
    if message.startswith(f"{path} "):  # "X is not ...": keep the "path: message" shape
        return f"verify: {path}: {message[len(str(path)) + 1 :]}"
    return f"verify: {path}: {message}"


def _line(exc: ProvenanceError) -> str:
    path = exc.detail.get("path") if isinstance(getattr(exc, "detail", None), dict) else None
    return problem_line(path, exc.message)


def guarded(func: F) -> F:
    """Wrap a command callback with the guard (its signature is kept for typer)."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        verbose = bool(kwargs.get("verbose"))
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException, SystemExit):
            raise
        except KeyboardInterrupt:
            sys.stderr.write("verify: interrupted\n")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except ProvenanceError as exc:
            sys.stderr.write((exc.diagnostics() if verbose else _line(exc)) + "\n")
            raise typer.Exit(exit_code_for(exc)) from None
        except Exception as exc:
            if verbose:
                traceback.print_exception(exc, file=sys.stderr)
            hint = "" if verbose else " (re-run with -v to see the traceback, and please report it)"
            sys.stderr.write(f"verify: {error_record(exc).message}{hint}\n")
            raise typer.Exit(ExitCode.INTERNAL) from None

    return run  # type: ignore[return-value]
