"""The monitoring database: cases, their URLs and reference fingerprints, every visit, and
deletion requests with their answers.

One SQLite file per deployment, opened like banks (:mod:`provenance._sqlite`): WAL journal,
``synchronous = FULL``, an application id, a versioned schema (``spec/monitor.md``). Writes
are single statements or short explicit transactions, so a crash loses at most the visit
being written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from provenance._sqlite import ensure_schema, open_database, transaction
from provenance.monitor.match import Reference
from provenance.monitor.model import (
    EVIDENCE_AFTER_MATCH,
    Evidence,
    Match,
    MonitorError,
    RequestState,
    Status,
    UrlStatus,
    Visit,
    check_url,
    utc_now,
)

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "Added", "MonitorStore", "Target", "status_rows"]

APPLICATION_ID: Final = 0x4A4A4D4E
"""SQLite ``application_id`` of a monitoring database ("JJMN")."""
SCHEMA_VERSION: Final = 1
"""Format version written into ``schema_version``."""

_SCHEMA: Final = """
CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL);
CREATE TABLE cases (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE refs (
    id INTEGER PRIMARY KEY,
    case_name TEXT NOT NULL REFERENCES cases(name),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('picture', 'video')),
    sha256 TEXT NOT NULL,
    pdq TEXT,
    watermark TEXT,
    frames TEXT NOT NULL DEFAULT '[]',
    added_at TEXT NOT NULL,
    UNIQUE (case_name, sha256)
);
CREATE TABLE urls (
    id INTEGER PRIMARY KEY,
    case_name TEXT NOT NULL REFERENCES cases(name),
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    note TEXT,
    added_at TEXT NOT NULL,
    UNIQUE (case_name, url)
);
CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    url_id INTEGER NOT NULL REFERENCES urls(id),
    checked_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('MATCH', 'NO_MATCH', 'GONE', 'UNREACHABLE')),
    http_status INTEGER,
    final_url TEXT,
    error TEXT,
    matches TEXT NOT NULL DEFAULT '[]',
    evidence TEXT,
    notes TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX visits_by_url ON visits (url_id, id);
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    url_id INTEGER NOT NULL REFERENCES urls(id),
    state TEXT NOT NULL CHECK (state IN ('sent', 'acknowledged', 'refused', 'removed')),
    at TEXT NOT NULL,
    note TEXT,
    message_id TEXT,
    channel TEXT
);
CREATE INDEX requests_by_url ON requests (url_id, id)
"""
_TABLES: Final = {"schema_version", "cases", "refs", "urls", "visits", "requests"}


@dataclass(frozen=True)
class Added:
    """What :meth:`MonitorStore.add` did."""

    case: str
    added: tuple[str, ...]
    """URLs newly registered."""
    already: tuple[str, ...]
    """URLs that were already in the case (nothing done)."""
    refs_added: tuple[Reference, ...]
    refs_already: tuple[Reference, ...]


@dataclass(frozen=True)
class Target:
    """A URL to visit, with what the runner needs to decide about evidence."""

    url_id: int
    case: str
    url: str
    previous_status: Status | None
    after_match: bool
    """The last visit with a MATCH, GONE or NO_MATCH status was a MATCH."""


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


class MonitorStore:
    """A monitoring database. Open with :meth:`open`; use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path, *, create: bool = False) -> MonitorStore:
        """Open (``create``: or create) a monitoring database.

        Raises
        ------
        MonitorError
            ``not_found``, ``not_a_monitor_db`` or ``unsupported_version``.
        """
        conn, p, _ = open_database(
            path,
            create=create,
            error=MonitorError,
            kind="monitoring database",
            bad_code="not_a_monitor_db",
            prepare=lambda c, p: ensure_schema(
                c,
                p,
                application_id=APPLICATION_ID,
                schema=_SCHEMA,
                version=SCHEMA_VERSION,
                tables=_TABLES,
                error=MonitorError,
                kind="monitoring database",
                bad_code="not_a_monitor_db",
            ),
        )
        return cls(conn, p)

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def __enter__(self) -> MonitorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self, statements: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock, transaction(self._conn):
            for sql, args in statements:
                self._conn.execute(sql, args)

    def cases(self) -> list[str]:
        """Names of every case, sorted."""
        return [r[0] for r in self._conn.execute("SELECT name FROM cases ORDER BY name")]

    def has_case(self, case: str) -> bool:
        """Whether the case exists."""
        row = self._conn.execute("SELECT 1 FROM cases WHERE name = ?", (case,)).fetchone()
        return row is not None

    def add(
        self,
        case: str,
        urls: Sequence[str],
        refs: Sequence[Reference],
        *,
        note: str | None = None,
    ) -> Added:
        """Register URLs and reference fingerprints under a case (created when new).

        Raises
        ------
        MonitorError
            ``bad_url`` for a URL that is not http(s) (nothing is added then), ``bad_case``
            for an empty case name.
        """
        if not case.strip():
            raise MonitorError("the case name must not be empty", code="bad_case")
        clean = list(dict.fromkeys(check_url(u) for u in urls))
        now = utc_now()
        with self._lock:
            have_urls = {
                r[0]
                for r in self._conn.execute("SELECT url FROM urls WHERE case_name = ?", (case,))
            }
            have_refs = {
                r[0]
                for r in self._conn.execute("SELECT sha256 FROM refs WHERE case_name = ?", (case,))
            }
            new_refs = [r for r in dict((r.sha256, r) for r in refs).values()]
            stmts: list[tuple[str, tuple[Any, ...]]] = [
                ("INSERT OR IGNORE INTO cases VALUES (?, ?)", (case, now))
            ]
            stmts += [
                (
                    "INSERT INTO urls (case_name, url, host, note, added_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (case, u, _host(u), note, now),
                )
                for u in clean
                if u not in have_urls
            ]
            stmts += [
                (
                    "INSERT INTO refs (case_name, name, kind, sha256, pdq, watermark, frames, "
                    "added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (case, r.name, r.kind, r.sha256, r.pdq, r.watermark, json.dumps(r.frames), now),
                )
                for r in new_refs
                if r.sha256 not in have_refs
            ]
            self._tx(stmts)
        return Added(
            case=case,
            added=tuple(u for u in clean if u not in have_urls),
            already=tuple(u for u in clean if u in have_urls),
            refs_added=tuple(r for r in new_refs if r.sha256 not in have_refs),
            refs_already=tuple(r for r in new_refs if r.sha256 in have_refs),
        )

    def references(self, case: str) -> list[Reference]:
        """The case's reference fingerprints, in the order added."""
        rows = self._conn.execute(
            "SELECT name, kind, sha256, pdq, watermark, frames FROM refs WHERE case_name = ? "
            "ORDER BY id",
            (case,),
        )
        return [Reference(n, k, s, p, w, tuple(json.loads(f))) for n, k, s, p, w, f in rows]

    def targets(self, case: str | None = None) -> list[Target]:
        """Every URL to visit (of one case, or all), with its last status."""
        sql = (
            "SELECT u.id, u.case_name, u.url, "
            " (SELECT status FROM visits v WHERE v.url_id = u.id ORDER BY v.id DESC LIMIT 1), "
            " (SELECT status FROM visits v WHERE v.url_id = u.id AND v.status != 'UNREACHABLE' "
            "  ORDER BY v.id DESC LIMIT 1) "
            "FROM urls u {} ORDER BY u.case_name, u.id"
        )
        rows = self._conn.execute(
            sql.format("WHERE u.case_name = ?" if case is not None else ""),
            (case,) if case is not None else (),
        ).fetchall()
        return [
            Target(i, c, u, None if p is None else Status(p), d == "MATCH")
            for i, c, u, p, d in rows
        ]

    def record(self, target: Target, visit: Visit) -> None:
        """Store one visit."""
        self.record_many([(target, visit)])

    def record_many(self, visits: Sequence[tuple[Target, Visit]]) -> None:
        """Store several visits in one transaction (one disk sync)."""
        sql = (
            "INSERT INTO visits (url_id, checked_at, status, http_status, final_url, error, "
            "matches, evidence, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._tx([(sql, _visit_row(t.url_id, v)) for t, v in visits])

    def _url_id(self, case: str | None, url: str) -> list[tuple[int, str]]:
        clean = check_url(url)
        if case is None:
            rows = self._conn.execute(
                "SELECT id, case_name FROM urls WHERE url = ?", (clean,)
            ).fetchall()
        else:
            rows = self._conn.execute(
                "SELECT id, case_name FROM urls WHERE url = ? AND case_name = ?", (clean, case)
            ).fetchall()
        if not rows:
            raise MonitorError(f"{clean} is not monitored", code="unknown_url")
        return [(int(i), str(c)) for i, c in rows]

    def respond(
        self,
        url: str,
        state: RequestState | str,
        *,
        case: str | None = None,
        note: str | None = None,
        message_id: str | None = None,
        channel: str | None = None,
        at: str | None = None,
    ) -> int:
        """Record a deletion-request state for a URL (in every case holding it, unless given).

        Returns the number of URLs updated.

        Raises
        ------
        MonitorError
            ``unknown_url`` when the URL is not monitored; ``bad_state`` for another state.
        """
        try:
            s = RequestState(state)
        except ValueError:
            raise MonitorError(
                f"unknown state {state!r} (use sent, acknowledged, refused or removed)",
                code="bad_state",
            ) from None
        ids = self._url_id(case, url)
        when = at or utc_now()
        self._tx(
            [
                (
                    "INSERT INTO requests (url_id, state, at, note, message_id, channel) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (i, s.value, when, note, message_id, channel),
                )
                for i, _ in ids
            ]
        )
        return len(ids)

    def requests(self, case: str, url: str) -> list[dict[str, Any]]:
        """Every recorded request state of a URL, oldest first."""
        rows = self._conn.execute(
            "SELECT r.state, r.at, r.note, r.message_id, r.channel FROM requests r "
            "JOIN urls u ON u.id = r.url_id WHERE u.case_name = ? AND u.url = ? ORDER BY r.id",
            (case, url),
        )
        keys = ("state", "at", "note", "message_id", "channel")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def status(self, case: str | None = None, *, timeline: bool = True) -> list[UrlStatus]:
        """One :class:`UrlStatus` per URL (of one case, or all), with its timeline.

        This is the library entry point for reports and renderers: plain frozen dataclasses,
        oldest visit first in each ``timeline``.
        """
        rows = self._conn.execute(
            "SELECT id, case_name, url, note FROM urls {} ORDER BY case_name, id".format(
                "WHERE case_name = ?" if case is not None else ""
            ),
            (case,) if case is not None else (),
        ).fetchall()
        return [self._row(int(i), c, u, n, timeline) for i, c, u, n in rows]

    def _visits(self, url_id: int, case: str, url: str) -> Iterator[Visit]:
        previous: Status | None = None
        for row in self._conn.execute(
            "SELECT checked_at, status, http_status, final_url, error, matches, evidence, notes "
            "FROM visits WHERE url_id = ? ORDER BY id",
            (url_id,),
        ):
            at, st, code, final, err, matches, ev, notes = row
            status = Status(st)
            yield Visit(
                case=case,
                url=url,
                final_url=final,
                status=status,
                http_status=code,
                checked_at=at,
                previous_status=previous,
                matches=tuple(Match(**m) for m in json.loads(matches)),
                evidence=None if ev is None else Evidence.from_dict(json.loads(ev)),
                error=err,
                notes=tuple(json.loads(notes)),
            )
            previous = status

    def _row(self, url_id: int, case: str, url: str, note: str | None, full: bool) -> UrlStatus:
        visits = list(self._visits(url_id, case, url))
        last_match = max(
            (i for i, v in enumerate(visits) if v.status is Status.MATCH), default=None
        )
        gone_since = None
        if last_match is not None and last_match + 1 < len(visits):
            gone_since = visits[last_match + 1].checked_at
        state_row = self._conn.execute(
            "SELECT state FROM requests WHERE url_id = ? ORDER BY id DESC LIMIT 1", (url_id,)
        ).fetchone()
        state = None if state_row is None else str(state_row[0])
        last = visits[-1] if visits else None
        if state == RequestState.REMOVED and last is not None and last.status is Status.MATCH:
            state = "removed_but_present"
        return UrlStatus(
            case=case,
            url=url,
            note=note,
            first_checked=visits[0].checked_at if visits else None,
            last_checked=last.checked_at if last else None,
            last_status=last.status if last else None,
            last_match_at=None if last_match is None else visits[last_match].checked_at,
            gone_since=gone_since,
            checks=len(visits),
            request_state=state,
            timeline=tuple(visits) if full else (),
        )


def status_rows(path: str | Path, case: str | None = None) -> list[UrlStatus]:
    """The status rows of a database file (one case, or all), each with its full timeline.

    For reports and renderers: plain frozen dataclasses (:class:`UrlStatus`, whose
    ``timeline`` holds every :class:`Visit` oldest first, with its ``matches`` and
    ``evidence``), nothing left open.

    Raises
    ------
    MonitorError
        ``not_found``, ``not_a_monitor_db``, ``unsupported_version``, or ``unknown_case``.
    """
    with MonitorStore.open(path) as store:
        if case is not None and not store.has_case(case):
            raise MonitorError(f"no case named {case!r}", code="unknown_case")
        return store.status(case)


def _visit_row(url_id: int, visit: Visit) -> tuple[Any, ...]:
    return (
        url_id,
        visit.checked_at,
        visit.status.value,
        visit.http_status,
        visit.final_url,
        visit.error,
        json.dumps([m.to_dict() for m in visit.matches]),
        None if visit.evidence is None else json.dumps(visit.evidence.to_dict()),
        json.dumps(list(visit.notes)),
    )


def needs_evidence(status: Status, target: Target) -> bool:
    """Evidence is written for every MATCH and the first GONE/NO_MATCH after a MATCH."""
    return status is Status.MATCH or (status.value in EVIDENCE_AFTER_MATCH and target.after_match)
