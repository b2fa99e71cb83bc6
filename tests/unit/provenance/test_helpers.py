"""The one atomic write, the one clock and the one SQLite transaction of the library."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

import pytest

from provenance._atomic import atomic_path, atomic_write, atomic_writer
from provenance._clock import utc_now, utc_text
from provenance._sqlite import transaction


def test_atomic_write_replaces_and_follows_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    mask = os.umask(0o027)
    try:
        atomic_write(target, b"new")
    finally:
        os.umask(mask)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_a_failed_write_leaves_no_temporary_file_and_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as f:
        f.write(b"half")
        raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    with pytest.raises(ValueError), atomic_path(tmp_path / "new.mp4") as tmp:
        tmp.write_bytes(b"partial")
        raise ValueError("encoder failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_no_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write(target, b"first", overwrite=False)
    with pytest.raises(FileExistsError):
        atomic_write(target, b"second", overwrite=False)
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_an_unwritable_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        atomic_write(tmp_path / "missing" / "out.bin", b"x")


def test_utc_text() -> None:
    seoul = dt.timezone(dt.timedelta(hours=9))
    assert utc_text(dt.datetime(2026, 1, 2, 12, 0, 0, 123, tzinfo=seoul)) == "2026-01-02T03:00:00Z"
    assert utc_text(dt.datetime(2026, 1, 2, 3, 0, 0)) == "2026-01-02T03:00:00Z"
    now = utc_now()
    assert now.tzinfo is dt.UTC
    parsed = dt.datetime.fromisoformat(utc_text().replace("Z", "+00:00"))
    assert abs((parsed - now).total_seconds()) < 60


def test_transaction_commits_or_rolls_back(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER)")
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("stop")
    with transaction(conn, immediate=False):
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert not conn.in_transaction
    conn.close()
