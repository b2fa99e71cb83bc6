"""Process exit codes of the ``verify`` command (documented in ``spec/exit-codes.md``)."""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    """What the ``verify`` process tells the shell."""

    OK = 0
    """Everything was processed and no ``--fail-on`` condition was met."""
    CONDITION_MET = 1
    """A ``--fail-on`` condition was met (``watermark detect``: some input lacks the mark)."""
    USAGE = 2
    """Bad command-line usage or configuration."""
    INPUT_ERROR = 3
    """Some inputs could not be processed (the others were reported), or a dependency is missing."""
    INTERNAL = 4
    """An internal error: a bug. Re-run with ``--verbose`` and report it."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C)."""
