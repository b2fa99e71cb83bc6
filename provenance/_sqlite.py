"""Opening the project's SQLite files (banks, manifest repositories) with clear errors.

Both kinds of file are opened the same way: refuse a missing file unless asked to create
it, refuse a directory, connect in autocommit mode (transactions are explicit), then let
the caller check or create its schema inside a ``try`` that closes the connection on any
failure and turns "not a database" into the caller's own error type.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from provenance._clock import utc_text
from provenance.errors import ProvenanceError

__all__ = ["ensure_schema", "open_database", "transaction"]

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


@contextlib.contextmanager
def transaction(
    conn: sqlite3.Connection, *, immediate: bool = True
) -> Iterator[sqlite3.Connection]:
    """One explicit transaction on an autocommit connection: COMMIT, or ROLLBACK on any error.

    Parameters
    ----------
    conn
        A connection opened by :func:`open_database` (``isolation_level=None``).
    immediate
        Take the write lock at the start (``BEGIN IMMEDIATE``): the reads inside see the
        same database as the writes. False for a read snapshot (``BEGIN``).

    Yields
    ------
    sqlite3.Connection
        ``conn``.
    """
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def ensure_schema(
    conn: sqlite3.Connection,
    p: Path,
    *,
    application_id: int,
    schema: str,
    version: int,
    tables: set[str],
    error: type[ProvenanceError],
    kind: str,
    bad_code: str,
    fill: Callable[[sqlite3.Connection], object] | None = None,
) -> None:
    """Create the schema of an empty file, or check that of an existing one.

    An empty file (no tables) gets ``schema`` (statements separated by ``;``), its
    ``schema_version`` row, what ``fill`` inserts and the ``application_id``, in one
    transaction taken under the write lock (another process may be creating it at the same
    moment). Any file must then carry ``application_id`` and ``tables``, and a schema version
    no newer than ``version``. Journal mode WAL and ``synchronous = FULL`` in every case.

    Raises
    ------
    ProvenanceError
        ``error(message, code=...)``: ``bad_code`` for another application's file or a
        database that is not a ``kind``; ``unsupported_version`` for a newer format.
    """
    conn.execute("PRAGMA busy_timeout = 10000")
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if not present:
        if app_id not in (0, application_id):
            raise error(f"{p} is a SQLite file of another application", code=bad_code)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        with transaction(conn):
            # Re-check inside the write lock: another process may have created it.
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                for statement in schema.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, utc_text()))
                if fill is not None:
                    fill(conn)
                conn.execute(f"PRAGMA application_id = {int(application_id)}")
        present = set(tables)
        app_id = application_id
    if app_id != application_id or not tables <= present:
        raise error(f"{p} is a SQLite database but not a {kind}", code=bad_code)
    found = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    if found is None or found > version:
        raise error(
            f"{p} uses {kind} format version {found}; this version reads up to "
            f"{version}. Upgrade jinjja.",
            code="unsupported_version",
        )
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
