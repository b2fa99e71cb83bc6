"""Opening the project's SQLite files (banks, manifest repositories) with clear errors.

Both kinds of file are opened the same way: refuse a missing file unless asked to create
it, refuse a directory, connect in autocommit mode (transactions are explicit), then let
the caller check or create its schema inside a ``try`` that closes the connection on any
failure and turns "not a database" into the caller's own error type.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from provenance.errors import ProvenanceError

__all__ = ["open_database"]

T = TypeVar("T")


def open_database(
    path: str | Path,
    *,
    create: bool,
    error: type[ProvenanceError],
    kind: str,
    bad_code: str,
    prepare: Callable[[sqlite3.Connection, Path], T],
) -> tuple[sqlite3.Connection, Path, T]:
    """Open (or create) a SQLite file and prepare it; close it again on any failure.

    Parameters
    ----------
    path
        The file.
    create
        Create the file when it is missing (its directory must exist).
    error
        The error type to raise (called as ``error(message, code=...)``).
    kind
        What the file is, in words (``"bank"``, ``"manifest repository"``).
    bad_code
        Error code for "exists but is not one of ours".
    prepare
        Checks or creates the schema; its result is returned.

    Returns
    -------
    tuple
        The connection, the path, and what ``prepare`` returned.
    """
    p = Path(path)
    exists = p.exists()
    if not exists and not create:
        raise error(f"no such {kind}: {p}", code="not_found")
    if exists and not p.is_file():
        raise error(f"not a file: {p}", code=bad_code)
    if not exists and not p.parent.is_dir():
        raise error(f"directory does not exist: {p.parent}", code="not_found")
    try:
        conn = sqlite3.connect(p, isolation_level=None, timeout=10.0, check_same_thread=False)
    except sqlite3.Error as exc:
        raise error(f"cannot open {p}: {exc}", code="unreadable") from None
    try:
        prepared = prepare(conn, p)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise error(f"{p} is not a {kind} (not a SQLite database: {exc})", code=bad_code) from None
    except BaseException:
        conn.close()
        raise
    return conn, p, prepared
