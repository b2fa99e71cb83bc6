"""The monitoring database: schema, durability settings, add, history, request states."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from provenance.monitor import (
    Match,
    MonitorError,
    MonitorStore,
    Reference,
    RequestState,
    Status,
    Visit,
)
from provenance.monitor.store import SCHEMA_VERSION, needs_evidence, status_rows

REF = Reference("ref.jpg", "picture", "ab" * 32, "cd" * 32)


def _visit(store: MonitorStore, url: str, status: Status, at: str) -> None:
    target = next(t for t in store.targets("c") if t.url == url)
    matches = (Match(url, "ef" * 32, "pdq", 3, "ref.jpg"),) if status is Status.MATCH else ()
    store.record(target, Visit("c", url, url, status, 200, at, target.previous_status, matches))


def test_create_wal_and_version(tmp_path: Path) -> None:
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", ["https://example.org/a"], [REF])
    conn = sqlite3.connect(tmp_path / "m.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_missing_foreign_and_newer_files(tmp_path: Path) -> None:
    with pytest.raises(MonitorError) as info:
        MonitorStore.open(tmp_path / "none.db")
    assert info.value.code == "not_found"
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(MonitorError) as info:
        MonitorStore.open(other)
    assert info.value.code == "not_a_monitor_db"
    (tmp_path / "text.db").write_text("hello")
    with pytest.raises(MonitorError):
        MonitorStore.open(tmp_path / "text.db")
    newer = tmp_path / "newer.db"
    MonitorStore.open(newer, create=True).close()
    conn = sqlite3.connect(newer)
    conn.execute("INSERT INTO schema_version VALUES (99, 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(MonitorError) as info:
        MonitorStore.open(newer)
    assert info.value.code == "unsupported_version"


def test_add_is_idempotent_and_refuses_other_schemes(tmp_path: Path) -> None:
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        first = store.add("c", ["https://example.org/a", "https://u:p@example.org/b"], [REF])
        assert first.added == ("https://example.org/a", "https://example.org/b")
        again = store.add("c", ["https://example.org/a"], [REF])
        assert again.added == () and again.already == ("https://example.org/a",)
        assert again.refs_added == () and len(again.refs_already) == 1
        with pytest.raises(MonitorError):
            store.add("c", ["https://example.org/new", "ftp://example.org/x"], [])
        assert [t.url for t in store.targets("c")] == [
            "https://example.org/a",
            "https://example.org/b",
        ]
        assert store.references("c") == [REF]
        # The same URL may sit in another case.
        assert store.add("d", ["https://example.org/a"], [REF]).added == ("https://example.org/a",)


def test_history_gone_since_and_request_states(tmp_path: Path) -> None:
    url = "https://example.org/a"
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [url], [REF])
        _visit(store, url, Status.MATCH, "2026-01-01T00:00:00Z")
        _visit(store, url, Status.UNREACHABLE, "2026-01-02T00:00:00Z")
        target = store.targets("c")[0]
        assert target.previous_status is Status.UNREACHABLE and target.after_match
        assert needs_evidence(Status.GONE, target)
        _visit(store, url, Status.GONE, "2026-01-03T00:00:00Z")
        target = store.targets("c")[0]
        assert not target.after_match and not needs_evidence(Status.GONE, target)
        [row] = store.status("c")
        assert row.first_checked == "2026-01-01T00:00:00Z"
        assert row.last_match_at == "2026-01-01T00:00:00Z"
        assert row.gone_since == "2026-01-02T00:00:00Z"
        assert row.last_status is Status.GONE and row.checks == 3
        assert [v.previous_status for v in row.timeline] == [None, Status.MATCH, Status.UNREACHABLE]
        assert row.timeline[0].matches[0].distance == 3
        assert row.request_state is None

        store.respond(url, RequestState.REMOVED, note="platform says removed")
        assert store.status("c")[0].request_state == "removed"
        _visit(store, url, Status.MATCH, "2026-01-04T00:00:00Z")
        row = store.status("c")[0]
        assert row.request_state == "removed_but_present"
        assert row.gone_since is None and row.last_match_at == "2026-01-04T00:00:00Z"
        with pytest.raises(MonitorError):
            store.respond("https://example.org/unknown", "sent")
        with pytest.raises(MonitorError):
            store.respond(url, "maybe")
        assert [r["state"] for r in store.requests("c", url)] == ["removed"]
    [row] = status_rows(tmp_path / "m.db", "c")
    assert row.request_state == "removed_but_present" and len(row.timeline) == 4
    assert row.to_dict(timeline=True)["timeline"][1]["previous_status"] == "MATCH"
    with pytest.raises(MonitorError):
        status_rows(tmp_path / "m.db", "nope")
