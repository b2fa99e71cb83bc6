"""Banks of known content: PDQ hashes in a SQLite file, matched through an in-memory index.

A bank is one SQLite file (format in ``spec/bank.md``): a ``schema_version`` table, a
``bank_info`` table and an ``entries`` table holding each hash as a 32-byte BLOB with its
quality, id, label and case. The file is in WAL mode with ``synchronous=FULL``: every
committed add or import survives a crash or power loss, readers never block the writer,
and a crash mid-import leaves the bank as it was before the import (each import or add
is one transaction).

Matching loads all hashes once into a :class:`~provenance.matching.hamming.HammingIndex` (exact,
brute force for small banks, multi-index hashing for large ones) and searches the 8
rotations/flips of each query. A distance of at most 31 is a ``MATCH``; 32 to 52 is
``REVIEW`` (for a human; never act on it automatically). The index is rebuilt when the
file changed since it was built (by this or another process).

:func:`match_file` is the one-call entry point used by ``provenance.check``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import itertools
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Concatenate, Final, Literal, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from provenance._clock import utc_text
from provenance._sqlite import ensure_schema, open_database, transaction
from provenance.errors import BankError
from provenance.matching.hamming import FlatIndex, HammingIndex, SearchResult, pack
from provenance.matching.indexfile import IndexFile, index_path, load_index, save_index
from provenance.matching.pdq import (
    QUALITY_THRESHOLD,
    Hashed,
    NotHashable,
    PdqError,
    PdqHash,
    Variant,
    VideoHashes,
    hash_bytes,
    hash_video,
    read_input,
)
from provenance.matching.vpdq import (
    COMPARED_MATCH_PERCENT,
    QUERY_MATCH_PERCENT,
    VpdqHash,
    compare,
    hash_video_vpdq,
    vpdq_available,
)
from provenance.matching.vpdq import DISTANCE as VPDQ_DISTANCE
from provenance.report import BankMatch, ContentHashes

__all__ = [
    "APPLICATION_ID",
    "MATCH_MAX",
    "REVIEW_MAX",
    "SCHEMA_VERSION",
    "Added",
    "Bank",
    "BankEntry",
    "BankError",
    "ExchangeRow",
    "ImportResult",
    "InvalidRow",
    "Lookup",
    "apply_allow_lists",
    "negative_names",
    "band",
    "lookup_file",
    "match_file",
    "match_file_hashes",
    "stored_hashes",
]

SCHEMA_VERSION: Final = 2
"""Version of the bank file format written by this code (``schema_version`` table)."""
APPLICATION_ID: Final = 0x4A4A424B
"""SQLite ``application_id`` of a bank file ("JJBK")."""
MATCH_MAX: Final = 31
"""Largest distance reported as ``MATCH`` (ThreatExchange ``PDQ_CONFIDENT_MATCH_THRESHOLD``)."""
REVIEW_MAX: Final = 52
"""Largest distance reported at all, as ``REVIEW`` (HMA's flat-index threshold)."""
FRAME_SEPARATOR: Final = "#t="
"""Entry ids ``ID#t=SECONDS`` are frames of the video ``ID`` (W3C media-fragment style)."""

_V2: Final = """;
CREATE TABLE entry_history (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL,
    state TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX entry_history_entry ON entry_history (entry_id);
CREATE TABLE videos (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE CHECK (length(entry_id) BETWEEN 1 AND 512),
    vpdq TEXT NOT NULL,
    md5 TEXT,
    label TEXT,
    case_id TEXT,
    source TEXT,
    added_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    exchange TEXT
);
"""
_SCHEMA: Final = (
    """
CREATE TABLE schema_version (
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE bank_info (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE CHECK (length(entry_id) BETWEEN 1 AND 512),
    signal_type TEXT NOT NULL DEFAULT 'pdq' CHECK (signal_type = 'pdq'),
    hash BLOB NOT NULL CHECK (typeof(hash) = 'blob' AND length(hash) = 32),
    quality INTEGER CHECK (quality IS NULL OR quality BETWEEN 0 AND 100),
    label TEXT,
    case_id TEXT,
    source TEXT,
    added_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    exchange TEXT
);
"""
    + _V2
)

_MIGRATE_1_TO_2: Final = (
    """
ALTER TABLE entries ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
    CHECK (state IN ('active', 'disabled'));
ALTER TABLE entries ADD COLUMN exchange TEXT
"""
    + _V2
)
KINDS: Final = ("positive", "negative")
"""A negative bank (allow-list) suppresses the matches of the other banks."""

_EXPORT_COLUMNS: Final = ("id", "pdq", "quality", "label", "case", "source", "added_at")
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_HASH_COLUMNS: Final = ("pdq", "hash", "pdq_hash", "hash_value", "hashvalue", "signal_value")
_ID_COLUMNS: Final = ("id", "entry_id", "hash_id", "content_id", "bank_content_id")
_QUALITY_COLUMNS: Final = ("quality", "pdq_quality")
_LABEL_COLUMNS: Final = ("label", "tags", "tag")
_CASE_COLUMNS: Final = ("case", "case_id", "case_number", "casenumbers", "case_numbers")
_INSERT_BATCH: Final = 50_000
_LOAD_BATCH: Final = 100_000
MIH_MIN_ROWS = 200_000
"""Banks from this size get multi-index tables in their index file (smaller: a scan)."""
DELTA_MAX: Final = 50_000
"""Rows added after the index file was written that are searched by a scan; past this
many (or 5 % of the bank) the index file is rewritten."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[Concatenate[Bank, _P], _R]) -> Callable[Concatenate[Bank, _P], _R]:
    """Run a method under the bank's lock (one SQLite connection, shared by threads)."""

    @functools.wraps(method)
    def wrapper(self: Bank, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _headerless_names(first: list[str]) -> list[str] | None:
    """Column names for a CSV without a header row, or None when ``first`` is a header.

    A first row holding a PDQ hash is data. With the hash in the first column the order is
    the PDQ reference tools' ``hash,quality,name`` (name read as the label, then a case
    id); otherwise it is the order ``verify bank export`` writes.
    """
    cells = [c.strip() for c in first]
    if not any(_HEX64.fullmatch(c) for c in cells):
        return None
    if _HEX64.fullmatch(cells[0]) and not (len(cells) > 1 and _HEX64.fullmatch(cells[1])):
        return ["pdq", "quality", "label", "case"][: len(cells)] + [""] * max(0, len(cells) - 4)
    return list(_EXPORT_COLUMNS[: len(cells)]) + [""] * max(0, len(cells) - len(_EXPORT_COLUMNS))


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def band(distance: int) -> str | None:
    """Return the match band of a distance: ``MATCH``, ``REVIEW`` or None (no match).

    Parameters
    ----------
    distance
        Hamming distance between two PDQ hashes.

    Returns
    -------
    str | None
        ``"MATCH"`` for 0-31, ``"REVIEW"`` for 32-52, None above.

    Examples
    --------
    >>> band(31), band(32), band(53)
    ('MATCH', 'REVIEW', None)
    """
    if distance <= MATCH_MAX:
        return "MATCH"
    if distance <= REVIEW_MAX:
        return "REVIEW"
    return None


@dataclass(frozen=True)
class BankEntry:
    """One hash stored in a bank."""

    entry_id: str
    """Unique id within the bank (given on import, or derived from the file's SHA-256)."""
    pdq: str
    """The PDQ hash, 64 lowercase hex digits."""
    quality: int | None
    """PDQ quality 0-100, None when the source did not say."""
    label: str | None = None
    """Free-text label (what the content is)."""
    case: str | None = None
    """Case or ticket id the entry belongs to."""
    source: str | None = None
    """Where the hash came from (file name on add, CSV name on import)."""
    added_at: str | None = None
    """RFC 3339 UTC time it was added."""

    def to_dict(self) -> dict[str, Any]:
        """Return the record written by ``export`` (keys as in the CSV header)."""
        return {
            "id": self.entry_id,
            "pdq": self.pdq,
            "quality": self.quality,
            "label": self.label,
            "case": self.case,
            "source": self.source,
            "added_at": self.added_at,
        }


@dataclass(frozen=True)
class Added:
    """What adding one file did."""

    entry_ids: tuple[str, ...]
    """Ids of the entries now in the bank for this file (one per frame for a video)."""
    new: int
    """How many of them were new (the rest were already present)."""
    quality: int
    """PDQ quality (the lowest over the stored frames, for a video)."""
    vpdq: bool = False
    """Video: whether its vPDQ hash was stored too (needs the ``vpdq`` package)."""


@dataclass(frozen=True)
class InvalidRow:
    """A row of an import file that was not imported."""

    line: int
    """Line number in the file (1 is the header)."""
    reason: str
    """Why, in a plain sentence."""

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass(frozen=True)
class ExchangeRow:
    """One record received from a hash exchange, ready for :meth:`Bank.upsert`."""

    line: int
    """Line (or record number) in the file, for error reports."""
    entry_id: str
    digest: bytes | None
    """PDQ hash (32 bytes), or None for a video MD5 record."""
    md5: str | None
    """Video MD5 (32 lowercase hex digits), or None."""
    quality: int | None
    label: str | None
    case: str | None
    source: str | None
    state: str
    """``active`` or ``disabled``."""
    reason: str | None
    """Why the state is what it is (kept in the history)."""
    exchange: str | None
    """The exchange's own record, JSON text, kept verbatim for export."""
    vpdq: str | None = None
    """A video's vPDQ signal string (then ``digest`` and ``md5`` are None)."""


@dataclass(frozen=True)
class ImportResult:
    """Outcome of importing a hash list."""

    rows: int
    """Data rows read (blank lines excluded)."""
    imported: int
    """Rows added to the bank."""
    invalid: tuple[InvalidRow, ...]
    """Rows refused, with line numbers and reasons, in file order."""

    @property
    def ok(self) -> bool:
        """True when every row was imported."""
        return not self.invalid

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "invalid": [r.to_dict() for r in self.invalid],
        }


@dataclass(frozen=True)
class Lookup:
    """A picture or video that was hashed and looked up in banks."""

    media: Literal["picture", "video"]
    """What was hashed."""
    pdq: PdqHash | None
    """The picture's hash as it is (None for a video)."""
    quality: int
    """PDQ quality (the median over the hashable frames, for a video)."""
    matches: tuple[BankMatch, ...]
    """Matches in every bank, best first (``MATCH`` before ``REVIEW``)."""
    frames: int | None = None
    """Video only: how many sampled frames were hashable and searched."""
    vpdq: VpdqHash | None = None
    """Video only: its vPDQ hash and MD5 (None without the ``vpdq`` package)."""
    variants: tuple[PdqHash, ...] = ()
    """Picture only: the hashes of its 8 rotations/flips (:class:`Variant` order)."""


class Bank:
    """A bank of known content backed by a SQLite file.

    Use :meth:`open`; close with :meth:`close` or a ``with`` block.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from provenance.matching.pdq import parse_hex
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.db"
    >>> with Bank.open(path, create=True) as bank:
    ...     _ = bank.add_hash(parse_hex("ab" * 32, quality=100), entry_id="e1", label="demo")
    ...     [m.entry_id for m in bank.match_hashes([parse_hex("ab" * 31 + "aa")])]
    ['e1']
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, name: str) -> None:
        self._conn = conn
        self.path = path
        """Path of the bank file."""
        self.name = name
        """Name reported in matches (``bank_info.name``, by default the file's stem)."""
        self._index: _Snapshot | None = None
        self._videos: tuple[tuple[int, int], _VideoIndex] | None = None
        self._index_version: tuple[int, int] | None = None
        self._writes = 0
        self._lock = threading.RLock()

    # -- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, create: bool = False, name: str | None = None) -> Bank:
        """Open a bank file, or create it.

        Parameters
        ----------
        path
            Path of the SQLite file.
        create
            Create the file (and its parent directory must exist) when it is missing.
        name
            Name stored in a new bank (default: the file's stem). Ignored for an
            existing bank.

        Returns
        -------
        Bank
            The open bank.

        Raises
        ------
        BankError
            When the file is missing (and ``create`` is false), is not a SQLite file, is a
            SQLite file but not a bank, or was written by a newer version.
        """
        conn, p, bank_name = open_database(
            path,
            create=create,
            error=BankError,
            kind="bank",
            bad_code="not_a_bank",
            prepare=lambda conn, p: cls._prepare(conn, p, name),
        )
        return cls(conn, p, bank_name)

    @staticmethod
    def _prepare(conn: sqlite3.Connection, p: Path, name: str | None) -> str:
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: large imports touch many pages
        ensure_schema(
            conn,
            p,
            application_id=APPLICATION_ID,
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            tables={"schema_version", "bank_info", "entries"},
            error=BankError,
            kind="bank",
            bad_code="not_a_bank",
            fill=lambda c: c.execute(
                "INSERT INTO bank_info VALUES ('name', ?), ('created_at', ?), ('uuid', ?)",
                (name or p.stem, utc_text(), str(uuid.uuid4())),
            ),
        )
        found = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        if found < SCHEMA_VERSION:
            _migrate(conn, p, found)
        row = conn.execute("SELECT value FROM bank_info WHERE key = 'name'").fetchone()
        return str(row[0]) if row else p.stem

    def _info_value(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM bank_info WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def bank_id(self) -> str:
        """Identity of the bank (``bank_info.uuid``; banks from before it: name and time)."""
        with self._lock:
            found = self._info_value("uuid")
            if found is None:
                found = f"{self._info_value('name')}|{self._info_value('created_at')}"
            return found

    @_locked
    def close(self) -> None:
        """Close the file (the index is dropped)."""
        self._index = None
        self._conn.close()

    def __enter__(self) -> Bank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @_locked
    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def __repr__(self) -> str:
        return f"Bank({str(self.path)!r}, name={self.name!r})"

    @property
    def journal_mode(self) -> str:
        """SQLite journal mode (``wal``)."""
        with self._lock:
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- writing ---------------------------------------------------------------------
    @_locked
    def _write(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert entry rows in one transaction (raises sqlite3.IntegrityError on conflict)."""
        conn = self._conn
        try:
            with transaction(conn):
                start = self._next_rowid()
                conn.executemany(
                    "INSERT INTO entries (id, entry_id, hash, quality, label, case_id, source,"
                    " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    ((start + i, *r) for i, r in enumerate(rows)),
                )
        finally:
            self._writes += 1

    @_locked
    def _existing(self, entry_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(entry_ids), 500):
            part = entry_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            found.update(
                r[0]
                for r in self._conn.execute(
                    f"SELECT entry_id FROM entries WHERE entry_id IN ({marks})", part
                )
            )
        return found

    def add_hash(
        self,
        pdq: PdqHash,
        *,
        entry_id: str | None = None,
        label: str | None = None,
        case: str | None = None,
        source: str | None = None,
    ) -> bool:
        """Add one hash.

        Parameters
        ----------
        pdq
            The hash (quality below 50 is refused).
        entry_id
            Unique id; default: the hash's hex.
        label, case, source
            Stored with the entry.

        Returns
        -------
        bool
            True when added, False when an entry with this id is already in the bank.

        Raises
        ------
        BankError
            When the hash quality is below 50 or the id is empty or too long.
        """
        if not pdq.hashable:
            raise BankError(
                f"quality {pdq.quality} is below {QUALITY_THRESHOLD}: not hashable",
                code="not_hashable",
            )
        eid = pdq.hex if entry_id is None else entry_id
        _check_id(eid)
        if self._existing([eid]):
            return False
        self._write([(eid, pdq.digest, pdq.quality, label, case, source, utc_text())])
        return True

    def add_file(
        self,
        path: str | Path,
        *,
        entry_id: str | None = None,
        label: str | None = None,
        case: str | None = None,
        fps: float = 1.0,
    ) -> Added | NotHashable:
        """Hash a picture or video file and add it.

        A picture becomes one entry. A video becomes one entry per hashable sampled frame,
        with ids ``ID#t=SECONDS``. The default ``ID`` is the first 16 hex digits of the
        file's SHA-256, so adding the same file twice adds nothing.

        Parameters
        ----------
        path
            The file.
        entry_id
            Id to use instead of the SHA-256 prefix.
        label, case
            Stored with the entries.
        fps
            Video frame sampling rate.

        Returns
        -------
        Added | NotHashable
            What was stored, or why nothing was.

        Raises
        ------
        InputFileError
            When the file cannot be read.
        PdqError
            When it is neither a decodable picture nor (with PyAV) a video.
        """
        data = read_input(path)
        base = entry_id if entry_id is not None else hashlib.sha256(data).hexdigest()[:16]
        _check_id(base)
        source = Path(path).name
        hashed = _hash_media(data, fps=fps)
        if isinstance(hashed, NotHashable):
            return hashed
        if isinstance(hashed, Hashed):
            items = [(base, hashed.hash)]
        else:
            items = [
                (f"{base}{FRAME_SEPARATOR}{f.time:.3f}", f.result.hash)
                for f in hashed.frames
                if isinstance(f.result, Hashed)
            ]
            if not items:
                return _best_unhashable(hashed)
        ids = [eid for eid, _ in items]
        present = self._existing(ids)
        now = utc_text()
        rows = [
            (eid, h.digest, h.quality, label, case, source, now)
            for eid, h in items
            if eid not in present
        ]
        if rows:
            self._write(rows)
        stored_vpdq = False
        if not isinstance(hashed, Hashed) and vpdq_available():
            video = hash_video_vpdq(data)
            self.add_video(base, video, label=label, case=case, source=source)
            stored_vpdq = True
        return Added(
            entry_ids=tuple(ids),
            new=len(rows),
            quality=min(h.quality if h.quality is not None else 100 for _, h in items),
            vpdq=stored_vpdq,
        )

    def add_video(
        self,
        entry_id: str,
        video: VpdqHash,
        *,
        label: str | None = None,
        case: str | None = None,
        source: str | None = None,
    ) -> bool:
        """Store a video's vPDQ hash (and MD5). Returns False when the id is present."""
        _check_id(entry_id)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM videos WHERE entry_id = ?", (entry_id,)).fetchone():
                return False
            conn.execute(
                "INSERT INTO videos (entry_id, vpdq, md5, label, case_id, source, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (entry_id, video.to_signal(), video.md5, label, case, source, utc_text()),
            )
            conn.execute(
                "INSERT INTO entry_history (entry_id, state, at, reason) VALUES (?, ?, ?, ?)",
                (entry_id, "active", utc_text(), "added"),
            )
        return True

    @_locked
    def video_rowid_of(self, entry_id: str) -> int | None:
        """Return the row id of a video (vPDQ / MD5) entry, or None."""
        found = self._conn.execute(
            "SELECT id FROM videos WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return None if found is None else int(found[0])

    @_locked
    def video(self, rowid: int) -> dict[str, Any] | None:
        """A stored video by row id: ``entry_id``, ``vpdq`` (signal string), ``md5``,
        ``label``, ``state``; None when there is none."""
        row = self._conn.execute(
            "SELECT entry_id, vpdq, md5, label, state FROM videos WHERE id = ?", (rowid,)
        ).fetchone()
        if row is None:
            return None
        return dict(zip(("entry_id", "vpdq", "md5", "label", "state"), row, strict=True))

    def video_ids(self) -> set[str]:
        """Ids of the active videos that have a vPDQ hash."""
        return {v[0] for v in self._video_index().videos if v[1].features}

    @_locked
    def _video_index(self) -> _VideoIndex:
        version = self._version()
        if self._videos is None or self._videos[0] != version:
            rows = self._conn.execute(
                "SELECT id, entry_id, vpdq, md5, label, case_id FROM videos"
                " WHERE state = 'active' ORDER BY id"
            ).fetchall()
            self._videos = (version, _VideoIndex(rows))
        return self._videos[1]

    def match_video(
        self,
        query: VpdqHash,
        *,
        query_percent: float = QUERY_MATCH_PERCENT,
        compared_percent: float = COMPARED_MATCH_PERCENT,
    ) -> tuple[BankMatch, ...]:
        """Match a video's vPDQ hash against the bank's videos (HMA semantics, see
        :mod:`provenance.matching.vpdq`); an identical file (same MD5) matches too.

        Returns
        -------
        tuple of BankMatch
            ``entry_id`` the banked video, ``distance`` the closest frame pair, and in
            ``detail``: ``signal`` (``vpdq`` or ``video_md5``), ``query_match_percent``,
            ``compared_match_percent``.
        """
        found = self._video_index().search(query, query_percent, compared_percent)
        return tuple(
            BankMatch(
                bank=self.name,
                entry_id=eid,
                distance=d,
                band="MATCH",
                variant="identity",
                label=label,
                case=case,
                detail=detail,
            )
            for eid, d, label, case, detail in found
        )

    @_locked
    def remove(self, entry_ids: Sequence[str]) -> int:
        """Delete entries (honouring withdrawals from a hash exchange).

        Parameters
        ----------
        entry_ids
            Ids to delete; for a video id, its frames (``ID#t=...``) go too.

        Returns
        -------
        int
            Number of entries deleted.
        """
        conn = self._conn
        try:
            with transaction(conn):
                # Row ids are never reused (the index file relies on it): keep the highest.
                conn.execute(
                    "INSERT OR REPLACE INTO bank_info VALUES ('next_rowid', ?)",
                    (str(self._next_rowid()),),
                )
                deleted = 0
                for eid in entry_ids:
                    escaped = eid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    cur = conn.execute(
                        "DELETE FROM entries WHERE entry_id = ? OR entry_id LIKE ? ESCAPE '\\'",
                        (eid, escaped + FRAME_SEPARATOR + "%"),
                    )
                    deleted += cur.rowcount
                    conn.execute("DELETE FROM videos WHERE entry_id = ?", (eid,))
        finally:
            self._writes += 1
        return deleted

    def import_csv(
        self,
        source: str | Path | IO[str],
        *,
        label: str | None = None,
        case: str | None = None,
    ) -> ImportResult:
        """Import a hash list (CSV with a header row; format in ``spec/bank.md``).

        Valid rows are imported in one transaction; invalid ones are returned with their
        line numbers and are never silently dropped.

        Parameters
        ----------
        source
            Path of the CSV file, or an open text stream.
        label, case
            Used for rows whose own label/case is empty.

        Returns
        -------
        ImportResult
            Counts and the invalid rows.

        Raises
        ------
        BankError
            When the file cannot be read, is not UTF-8 CSV, or has no hash column.
        """
        if isinstance(source, str | Path):
            p = Path(source)
            try:
                with p.open(encoding="utf-8-sig", newline="") as f:
                    return self._import_stream(f, p.name, label, case)
            except FileNotFoundError:
                raise BankError(f"no such file: {p}", code="not_found") from None
            except IsADirectoryError:
                raise BankError(f"is a directory: {p}", code="unreadable") from None
            except UnicodeDecodeError:
                raise BankError(f"{p} is not UTF-8 text", code="bad_import") from None
            except OSError as exc:
                raise BankError(f"cannot read {p}: {exc.strerror or exc}") from None
        try:
            return self._import_stream(source, getattr(source, "name", None), label, case)
        except UnicodeDecodeError:
            raise BankError("the import file is not UTF-8 text", code="bad_import") from None

    def _import_stream(
        self, f: IO[str], source: str | None, label: str | None, case: str | None
    ) -> ImportResult:
        reader = csv.reader(f, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise BankError(f"line 1: not valid CSV: {exc}", code="bad_import") from None
        if header is None:
            raise BankError("the import file is empty", code="bad_import")
        names = _headerless_names(header)
        if names is not None:  # no header row: read the first line again as data
            reader = csv.reader(itertools.chain([",".join(map(_csv_field, header))], f))
        else:
            names = [h.strip().lower() for h in header]

        def column(options: tuple[str, ...]) -> int | None:
            return next((names.index(o) for o in options if o in names), None)

        c_hash = column(_HASH_COLUMNS)
        if c_hash is None:
            raise BankError(
                "the import file has no hash column; name it one of: " + ", ".join(_HASH_COLUMNS),
                code="bad_import",
            )
        c_id, c_q = column(_ID_COLUMNS), column(_QUALITY_COLUMNS)
        c_label, c_case = column(_LABEL_COLUMNS), column(_CASE_COLUMNS)
        width = 1 + max(c for c in (c_hash, c_id, c_q, c_label, c_case) if c is not None)
        now = utc_text()
        invalid: list[InvalidRow] = []
        rows: list[tuple[Any, ...]] = []
        seen: dict[str, int] = {}
        n_rows = 0
        try:
            for fields in reader:
                line = reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                n_rows += 1
                if len(fields) < width:
                    invalid.append(
                        InvalidRow(line, f"{len(fields)} columns, the header has {len(names)}")
                    )
                    continue
                hx = fields[c_hash].strip()
                try:
                    digest = bytes.fromhex(hx) if len(hx) == 64 else b""
                except ValueError:
                    digest = b""
                if len(digest) != 32:  # fromhex skips inner spaces: check the length
                    invalid.append(InvalidRow(line, f"not a PDQ hash (64 hex digits): {hx[:70]!r}"))
                    continue
                quality: int | None = None
                if c_q is not None and fields[c_q].strip():
                    qs = fields[c_q].strip()
                    if not (qs.isascii() and qs.isdigit()):
                        invalid.append(InvalidRow(line, f"quality is not a whole number: {qs!r}"))
                        continue
                    quality = int(qs)
                    if not 0 <= quality <= 100:
                        invalid.append(InvalidRow(line, f"quality {quality} is not in 0-100"))
                        continue
                    if quality < QUALITY_THRESHOLD:
                        invalid.append(
                            InvalidRow(
                                line,
                                f"quality {quality} is below {QUALITY_THRESHOLD}: not hashable",
                            )
                        )
                        continue
                eid = (fields[c_id].strip() if c_id is not None else "") or digest.hex()
                if len(eid) > 512:
                    invalid.append(InvalidRow(line, "id longer than 512 characters"))
                    continue
                if eid in seen:
                    invalid.append(
                        InvalidRow(line, f"duplicate id {eid!r} (first on line {seen[eid]})")
                    )
                    continue
                seen[eid] = line
                row_label = (fields[c_label].strip() if c_label is not None else "") or label
                row_case = (fields[c_case].strip() if c_case is not None else "") or case
                rows.append((line, eid, digest, quality, row_label, row_case, source, now))
        except csv.Error as exc:
            raise BankError(
                f"line {reader.line_num}: not valid CSV: {exc}", code="bad_import"
            ) from None
        imported = self._insert_new(rows, invalid)
        invalid.sort(key=lambda r: r.line)
        return ImportResult(rows=n_rows, imported=imported, invalid=tuple(invalid))

    @_locked
    def _insert_new(self, rows: list[tuple[Any, ...]], invalid: list[InvalidRow]) -> int:
        """Insert rows whose id is not in the bank yet; report the others as invalid."""
        if not rows:
            return 0
        conn = self._conn
        try:
            with transaction(conn):  # the id check and the insert see the same bank
                empty = conn.execute("SELECT 1 FROM entries LIMIT 1").fetchone() is None
                present = set() if empty else self._existing([r[1] for r in rows])
                if present:
                    invalid.extend(
                        InvalidRow(r[0], f"id {r[1]!r} is already in the bank")
                        for r in rows
                        if r[1] in present
                    )
                fresh = [r[1:] for r in rows if r[1] not in present]
                start = self._next_rowid()
                for i in range(0, len(fresh), _INSERT_BATCH):
                    conn.executemany(
                        "INSERT INTO entries (id, entry_id, hash, quality, label, case_id, "
                        "source, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        ((start + i + k, *r) for k, r in enumerate(fresh[i : i + _INSERT_BATCH])),
                    )
        finally:
            self._writes += 1
        return len(fresh)

    # -- reading ---------------------------------------------------------------------
    def entries(self) -> Iterator[BankEntry]:
        """Yield every entry in insertion order."""
        with self._lock:
            cur = self._conn.execute(
                "SELECT entry_id, hash, quality, label, case_id, source, added_at FROM entries"
                " ORDER BY id"
            )
            for eid, digest, quality, label, case, source, added in cur:
                yield BankEntry(eid, bytes(digest).hex(), quality, label, case, source, added)

    @_locked
    def export(self, out: IO[str], *, format: Literal["csv", "jsonl"] = "csv") -> int:
        """Write every entry as CSV (importable again) or JSON Lines.

        Parameters
        ----------
        out
            Text stream to write to.
        format
            ``csv`` (header ``id,pdq,quality,label,case,source,added_at``) or ``jsonl``.

        Returns
        -------
        int
            Number of entries written.
        """
        n = 0
        if format == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(_EXPORT_COLUMNS)
            for e in self.entries():
                writer.writerow(["" if v is None else v for v in e.to_dict().values()])
                n += 1
        elif format == "jsonl":
            for e in self.entries():
                out.write(json.dumps(e.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
                n += 1
        else:
            raise ValueError(f"unknown export format {format!r}")
        return n

    # -- matching --------------------------------------------------------------------
    def _version(self) -> tuple[int, int]:
        return (int(self._conn.execute("PRAGMA data_version").fetchone()[0]), self._writes)

    def _next_rowid(self) -> int:
        top = self._conn.execute("SELECT max(id) FROM entries").fetchone()[0] or 0
        kept = self._info_value("next_rowid")
        return max(int(top) + 1, int(kept) if kept else 1)

    def _load_rows(self, after: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
        """Hashes and row ids of the rows with ``id > after`` (streamed; call in a read
        transaction)."""
        n = int(
            self._conn.execute("SELECT count(*) FROM entries WHERE id > ?", (after,)).fetchone()[0]
        )
        codes = np.empty((n, 4), dtype=np.uint64)
        rowids = np.empty(n, dtype=np.int64)
        cur = self._conn.execute("SELECT id, hash FROM entries WHERE id > ? ORDER BY id", (after,))
        i = 0
        # Streamed in batches: a list of 10 M row tuples would need ~1.5 GB.
        while (batch := cur.fetchmany(_LOAD_BATCH)) and i < n:
            k = min(len(batch), n - i)
            codes[i : i + k] = pack(b"".join(h for _, h in batch[:k]))
            rowids[i : i + k] = np.fromiter((r for r, _ in batch[:k]), np.int64, count=k)
            i += k
        return codes[:i], rowids[:i]

    def _valid_file(self, found: IndexFile | None) -> IndexFile | None:
        """The index file when it still describes this bank's rows, else None."""
        if found is None:
            return None
        if found.meta["rows"] == 0:
            return found
        for key, rowid in (("first_digest", None), ("last_digest", found.max_rowid)):
            if rowid is None:
                rowid = (
                    int(found.rowids[0]) if found.rowids is not None else found.meta["rowid_base"]
                )
            row = self._conn.execute("SELECT hash FROM entries WHERE id = ?", (rowid,)).fetchone()
            # A removed row is fine (matches are checked against the bank); another hash
            # under the same row id means the file belongs to an older copy of the bank.
            if row is not None and bytes(row[0]).hex() != found.meta[key]:
                return None
        if self._next_rowid() <= found.max_rowid:
            return None  # the bank was rolled back below the index
        return found

    def _build_file(self) -> IndexFile:
        """Build the index over every row, and save it beside the bank when possible."""
        codes, rowids = self._load_rows(0)
        mih = HammingIndex(codes, build_after=0, mih_min_rows=MIH_MIN_ROWS).mih
        path = index_path(self.path)
        try:
            save_index(path, bank_id=self.bank_id, codes=codes, rowids=rowids, mih=mih)
        except OSError:
            pass  # a read-only directory: the index lives in memory only
        else:
            saved = load_index(path, bank_id=self.bank_id)
            if saved is not None:
                return saved
        contiguous = len(rowids) == 0 or int(rowids[-1]) - int(rowids[0]) == len(rowids) - 1
        meta = {
            "rows": len(rowids),
            "max_rowid": int(rowids[-1]) if len(rowids) else 0,
            "rowid_base": int(rowids[0]) if len(rowids) and contiguous else None,
        }
        return IndexFile(meta=meta, codes=codes, rowids=None if contiguous else rowids, mih=mih)

    @_locked
    def index(self) -> _Snapshot:
        """Return the index, loading the index file (or building it) when needed.

        The index file beside the bank (``BANK.db.idx``) covers the rows up to its
        ``max_rowid``; rows added since are read from the bank and scanned. When they are
        more than :data:`DELTA_MAX` (or 5 % of the bank), or the file is missing or
        stale, the file is rebuilt.

        Returns
        -------
        _Snapshot
            A consistent view of every row's hash.
        """
        version = self._version()
        if self._index is not None and version == self._index_version:
            return self._index
        # One snapshot for the file check and the new rows.
        with transaction(self._conn, immediate=False):
            base = self._valid_file(load_index(index_path(self.path), bank_id=self.bank_id))
            rebuilt = base is None
            if base is None:
                base = self._build_file()
            codes, rowids = self._load_rows(base.max_rowid)
            if not rebuilt and len(rowids) > max(DELTA_MAX, int(base.meta["rows"]) // 20):
                base = self._build_file()
                codes, rowids = self._load_rows(base.max_rowid)
        self._index = _Snapshot(base, codes, rowids)
        self._index_version = version
        return self._index

    @_locked
    def refresh_index(self) -> None:
        """Bring the index file up to date now (``verify bank`` writes call it, so that
        readers start fast). A file of which more than a fifth of the rows were removed
        is rebuilt."""
        snap = self.index()
        covered = len(snap)
        if covered and len(self) < 0.8 * covered:
            index_path(self.path).unlink(missing_ok=True)
            self._index = None
            self.index()

    def _search(
        self, queries: Sequence[Sequence[PdqHash]], max_distance: int
    ) -> list[dict[int, tuple[int, int]]]:
        """For each query (a group of variants): {rowid: (distance, variant number)}."""
        flat = [(qi, vi, h) for qi, group in enumerate(queries) for vi, h in enumerate(group)]
        out: list[dict[int, tuple[int, int]]] = [{} for _ in queries]
        if not flat:
            return out
        index = self.index()
        if len(index) == 0:
            return out
        codes = pack(h.digest for _, _, h in flat)
        qids, rowids, dists = index.search(codes, radius=max_distance)
        for k, rowid, d in zip(qids.tolist(), rowids.tolist(), dists.tolist(), strict=True):
            qi, vi, _ = flat[k]
            best = out[qi].get(rowid)
            if best is None or (d, vi) < best:
                out[qi][rowid] = (d, vi)
        return out

    def _metadata(
        self, rowids: Iterable[int]
    ) -> dict[int, tuple[str, str | None, str | None, int | None, bytes]]:
        ids = sorted(set(rowids))
        meta: dict[int, tuple[str, str | None, str | None, int | None, bytes]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for rid, eid, label, case, quality, digest in self._conn.execute(
                "SELECT id, entry_id, label, case_id, quality, hash FROM entries"
                f" WHERE id IN ({marks}) AND state = 'active'",
                part,
            ):
                meta[rid] = (eid, label, case, quality, bytes(digest))
        return meta

    @_locked
    def search_rows(
        self, queries: Sequence[Sequence[PdqHash]], *, max_distance: int = MATCH_MAX
    ) -> list[list[tuple[int, int]]]:
        """For each query (a group of variants), ``(row id, distance)`` of every entry within
        ``max_distance`` (best variant), closest first: what the HMA-style service returns.

        Parameters
        ----------
        queries
            One group of hashes per query.
        max_distance
            Largest distance reported.

        Returns
        -------
        list of list of (int, int)
            Row ids (stable integer ids of entries) and distances.
        """
        found = self._search(queries, max_distance)
        meta = self._metadata(r for hits in found for r in hits)
        out = []
        for group, hits in zip(queries, found, strict=True):
            rows = [
                (rowid, d)
                for rowid, (d, vi) in hits.items()
                if rowid in meta and _distance(meta[rowid][4], group[vi].digest) == d
            ]
            out.append(sorted(rows, key=lambda r: (r[1], r[0])))
        return out

    @_locked
    def entry(self, rowid: int) -> BankEntry | None:
        """Return the entry with this row id (the integer id the service shows), or None."""
        row = self._conn.execute(
            "SELECT entry_id, hash, quality, label, case_id, source, added_at FROM entries"
            " WHERE id = ?",
            (rowid,),
        ).fetchone()
        if row is None:
            return None
        eid, digest, quality, label, case, source, added = row
        return BankEntry(eid, bytes(digest).hex(), quality, label, case, source, added)

    @_locked
    def rowid_of(self, entry_id: str) -> int | None:
        """Return the row id of an entry id, or None."""
        row = self._conn.execute("SELECT id FROM entries WHERE entry_id = ?", (entry_id,))
        found = row.fetchone()
        return None if found is None else int(found[0])

    # -- settings, states ------------------------------------------------------------
    @property
    def threshold(self) -> int:
        """Largest distance reported as ``MATCH`` in this bank (default 31; 32-52 REVIEW)."""
        with self._lock:
            found = self._info_value("threshold")
        return int(found) if found is not None else MATCH_MAX

    @property
    def kind(self) -> str:
        """``positive`` (matches are reported) or ``negative`` (an allow-list: its matches
        suppress the other banks' matches of the same query)."""
        with self._lock:
            return self._info_value("kind") or "positive"

    @_locked
    def configure(self, *, threshold: int | None = None, kind: str | None = None) -> None:
        """Set the bank's match threshold (0-52) and/or kind (positive, negative).

        Raises
        ------
        BankError
            For a threshold outside 0-52 or an unknown kind.
        """
        if threshold is not None and not 0 <= threshold <= REVIEW_MAX:
            raise BankError(f"the threshold is 0-{REVIEW_MAX}, not {threshold}", code="bad_config")
        if kind is not None and kind not in KINDS:
            raise BankError(f"a bank is {' or '.join(KINDS)}, not {kind!r}", code="bad_config")
        with self._transaction():
            for key, value in (("threshold", threshold), ("kind", kind)):
                if value is not None:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO bank_info VALUES (?, ?)", (key, str(value))
                    )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            finally:
                self._writes += 1

    def set_state(
        self, entry_ids: Sequence[str], state: Literal["active", "disabled"], *, reason: str | None
    ) -> int:
        """Enable or disable entries (a video id takes its frames), keeping the history.

        A disabled entry (e.g. withdrawn by the exchange it came from) stays in the bank
        and in its history but never matches.

        Returns
        -------
        int
            Entries whose state changed.
        """
        if state not in ("active", "disabled"):
            raise BankError(f"unknown state {state!r}", code="bad_state")
        changed = 0
        now = utc_text()
        with self._transaction() as conn:
            for eid in entry_ids:
                escaped = eid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT entry_id FROM entries WHERE (entry_id = ? OR entry_id LIKE ?"
                        " ESCAPE '\\') AND state != ?",
                        (eid, escaped + FRAME_SEPARATOR + "%", state),
                    )
                ]
                for one in ids:
                    conn.execute("UPDATE entries SET state = ? WHERE entry_id = ?", (state, one))
                    conn.execute(
                        "INSERT INTO entry_history (entry_id, state, at, reason)"
                        " VALUES (?, ?, ?, ?)",
                        (one, state, now, reason),
                    )
                changed += len(ids)
        return changed

    def upsert(self, rows: Sequence[ExchangeRow]) -> tuple[int, list[InvalidRow]]:
        """Insert or update records received from an exchange, in one transaction.

        A new id is inserted; an id already present with the same hash (or video MD5) has
        its exchange record, label and case replaced and, when the state differs, its state
        changed with a history line. The same id with another hash is refused.

        Parameters
        ----------
        rows
            The records, in file order.

        Returns
        -------
        tuple
            Rows inserted or updated, and the refused rows.
        """
        invalid: list[InvalidRow] = []
        done = 0
        now = utc_text()
        with self._transaction() as conn:
            next_id = self._next_rowid()
            for r in rows:
                table, key, value = (
                    ("videos", "md5", r.md5)
                    if r.md5 is not None
                    else ("videos", "vpdq", r.vpdq)
                    if r.vpdq is not None
                    else ("entries", "hash", r.digest)
                )
                found = conn.execute(
                    f"SELECT {key}, state FROM {table} WHERE entry_id = ?", (r.entry_id,)
                ).fetchone()
                if found is None:
                    if table == "entries":
                        conn.execute(
                            "INSERT INTO entries (id, entry_id, hash, quality, label, case_id,"
                            " source, added_at, state, exchange) VALUES (?,?,?,?,?,?,?,?,?,?)",
                            (
                                next_id,
                                r.entry_id,
                                r.digest,
                                r.quality,
                                r.label,
                                r.case,
                                r.source,
                                now,
                                r.state,
                                r.exchange,
                            ),
                        )
                        next_id += 1
                    else:
                        conn.execute(
                            "INSERT INTO videos (entry_id, vpdq, md5, label, case_id, source,"
                            " added_at, state, exchange) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (
                                r.entry_id,
                                r.vpdq or "[]",
                                r.md5,
                                r.label,
                                r.case,
                                r.source,
                                now,
                                r.state,
                                r.exchange,
                            ),
                        )
                elif found[0] != value:
                    invalid.append(
                        InvalidRow(
                            r.line, f"id {r.entry_id!r} is already in the bank with another hash"
                        )
                    )
                    continue
                else:
                    conn.execute(
                        f"UPDATE {table} SET exchange = ?, label = ?, case_id = ?, state = ?"
                        " WHERE entry_id = ?",
                        (r.exchange, r.label, r.case, r.state, r.entry_id),
                    )
                if found is None or found[1] != r.state:
                    conn.execute(
                        "INSERT INTO entry_history (entry_id, state, at, reason) VALUES (?,?,?,?)",
                        (r.entry_id, r.state, now, r.reason),
                    )
                done += 1
        return done, invalid

    @_locked
    def exchange_rows(self) -> list[dict[str, Any]]:
        """Every entry and video with what exchanges need: ``entry_id``, ``pdq`` or
        ``md5``, ``quality``, ``label``, ``case``, ``added_at``, ``state``, ``exchange`` (the
        stored exchange record, JSON text or None); entries first, in insertion order."""
        out: list[dict[str, Any]] = []
        videos = {r[0] for r in self._conn.execute("SELECT entry_id FROM videos")}
        for eid, digest, quality, label, case, added, state, exchange in self._conn.execute(
            "SELECT entry_id, hash, quality, label, case_id, added_at, state, exchange"
            " FROM entries ORDER BY id"
        ):
            if FRAME_SEPARATOR in eid and eid.split(FRAME_SEPARATOR, 1)[0] in videos:
                continue  # frames of a video exchanged as vPDQ / MD5
            out.append(
                dict(
                    entry_id=eid,
                    pdq=bytes(digest).hex(),
                    md5=None,
                    vpdq=None,
                    quality=quality,
                    label=label,
                    case=case,
                    added_at=added,
                    state=state,
                    exchange=exchange,
                )
            )
        for eid, md5, vpdq, label, case, added, state, exchange in self._conn.execute(
            "SELECT entry_id, md5, vpdq, label, case_id, added_at, state, exchange FROM videos"
            " ORDER BY id"
        ):
            common = dict(
                entry_id=eid,
                pdq=None,
                quality=None,
                label=label,
                case=case,
                added_at=added,
                state=state,
                exchange=exchange,
            )
            if md5:
                out.append({**common, "md5": md5, "vpdq": None})
            if vpdq and vpdq != "[]":
                out.append({**common, "md5": None, "vpdq": vpdq})
        return out

    @_locked
    def history(self, entry_id: str) -> list[dict[str, Any]]:
        """Every state an entry has had: ``[{"state", "at", "reason"}]``, oldest first."""
        return [
            {"state": st, "at": at, "reason": reason}
            for st, at, reason in self._conn.execute(
                "SELECT state, at, reason FROM entry_history WHERE entry_id = ? ORDER BY id",
                (entry_id,),
            )
        ]

    @_locked
    def state_of(self, entry_id: str) -> str | None:
        """``active``, ``disabled``, or None when there is no such entry."""
        row = self._conn.execute("SELECT state FROM entries WHERE entry_id = ?", (entry_id,))
        found = row.fetchone()
        return None if found is None else str(found[0])

    @_locked
    def match_batch(
        self,
        queries: Sequence[Sequence[PdqHash]],
        *,
        max_distance: int = REVIEW_MAX,
        variants: Sequence[Variant] | None = None,
    ) -> list[tuple[BankMatch, ...]]:
        """Match many queries at once (one index search for all of them).

        Parameters
        ----------
        queries
            One group of hashes per query: its 8 dihedral variants (in :class:`Variant`
            order), or just the hash as it is.
        max_distance
            Largest distance reported (default 52: ``MATCH`` and ``REVIEW`` bands).
        variants
            Names of the hashes in each group (default: :class:`Variant` order).

        Returns
        -------
        list of tuple of BankMatch
            For each query, one match per bank entry within ``max_distance`` (the best of
            the variants), sorted by distance then entry id.
        """
        if not 0 <= max_distance <= REVIEW_MAX:
            raise ValueError(f"max_distance must be 0-{REVIEW_MAX}, got {max_distance}")
        names = tuple(variants) if variants is not None else tuple(Variant)
        threshold = self.threshold
        found = self._search(queries, max_distance)
        meta = self._metadata(r for hits in found for r in hits)
        results: list[tuple[BankMatch, ...]] = []
        for group, hits in zip(queries, found, strict=True):
            matches = []
            for rowid, (d, vi) in hits.items():
                if rowid not in meta:
                    continue  # removed since the index file was written, or disabled
                eid, label, case, quality, digest = meta[rowid]
                if _distance(digest, group[vi].digest) != d:
                    continue  # not the row the index file knew (never expected)
                matches.append(
                    BankMatch(
                        bank=self.name,
                        entry_id=eid,
                        distance=d,
                        band="MATCH" if d <= threshold else "REVIEW",
                        variant=names[vi].value,
                        label=label,
                        case=case,
                        detail={"entry_quality": quality} if quality is not None else None,
                    )
                )
            matches.sort(key=lambda m: (m.distance, m.entry_id))
            results.append(tuple(matches))
        return results

    def match_hashes(
        self, hashes: Sequence[PdqHash], *, max_distance: int = REVIEW_MAX
    ) -> tuple[BankMatch, ...]:
        """Match one query given as its hashes.

        Parameters
        ----------
        hashes
            The 8 dihedral variants (see :attr:`provenance.matching.pdq.Hashed.variants`), or a
            single hash (then only the picture as it is is searched).
        max_distance
            Largest distance reported.

        Returns
        -------
        tuple of BankMatch
            One per matching entry, best first.
        """
        return self.match_batch([hashes], max_distance=max_distance)[0]


def _migrate(conn: sqlite3.Connection, p: Path, found: int) -> None:
    """Bring a format-1 bank to format 2 (entry states, history, vPDQ videos), in place."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise BankError(
            f"{p} uses bank format {found}; open it once with write access to upgrade it ({exc})",
            code="needs_upgrade",
        ) from None
    try:
        if conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] < 2:
            for statement in _MIGRATE_1_TO_2.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (2, ?)", (utc_text(),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


class _VideoIndex:
    """The bank's vPDQ videos: every prepared frame in one scan index, frame -> video."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.videos: list[tuple[str, VpdqHash, str | None, str | None]] = []
        self.by_md5: dict[str, int] = {}
        owners: list[npt.NDArray[np.intp]] = []
        codes: list[npt.NDArray[np.uint64]] = []
        for _rowid, eid, signal, md5, label, case in rows:
            k = len(self.videos)
            video = VpdqHash.from_signal(signal, md5=md5)
            self.videos.append((eid, video, label, case))
            if md5:
                self.by_md5.setdefault(md5, k)
            c = video.codes()
            codes.append(c)
            owners.append(np.full(len(c), k, dtype=np.intp))
        self.frames = FlatIndex(np.concatenate(codes) if codes else np.empty((0, 4), np.uint64))
        self.owner = np.concatenate(owners) if owners else np.empty(0, np.intp)

    def search(
        self, query: VpdqHash, query_percent: float, compared_percent: float
    ) -> list[tuple[str, int, str | None, str | None, dict[str, Any]]]:
        out: list[tuple[str, int, str | None, str | None, dict[str, Any]]] = []
        hit_md5 = self.by_md5.get(query.md5) if query.md5 else None
        if hit_md5 is not None:
            eid, _, label, case = self.videos[hit_md5]
            out.append((eid, 0, label, case, {"media": "video", "signal": "video_md5"}))
        q = query.codes()
        if len(q) and len(self.frames):
            hits = self.frames.search(q, radius=VPDQ_DISTANCE)
            for k in sorted(set(self.owner[hits.row].tolist())):
                if k == hit_md5:
                    continue
                eid, video, label, case = self.videos[k]
                qp, cp = compare(query, video)
                if qp >= query_percent and cp >= compared_percent:
                    best = int(hits.distance[self.owner[hits.row] == k].min())
                    detail = {
                        "media": "video",
                        "signal": "vpdq",
                        "query_match_percent": round(qp, 2),
                        "compared_match_percent": round(cp, 2),
                    }
                    out.append((eid, best, label, case, detail))
        return sorted(out, key=lambda r: (r[1], r[0]))


class _Snapshot:
    """The index file's rows plus the rows added after it (scanned), searched together."""

    def __init__(
        self, base: IndexFile, codes: npt.NDArray[np.uint64], rowids: npt.NDArray[np.int64]
    ) -> None:
        self.base = base
        self.base_index = HammingIndex(base.codes, mih=base.mih, build_after=1 << 62)
        self.delta = FlatIndex(codes)
        self.delta_rowids = rowids

    def __len__(self) -> int:
        return len(self.base_index) + len(self.delta)

    @property
    def file_rows(self) -> int:
        """Rows covered by the index file."""
        return len(self.base_index)

    @property
    def delta_rows(self) -> int:
        """Rows added after the index file, searched by a scan."""
        return len(self.delta)

    def _rowids(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
        if self.base.rowids is not None:
            return np.take(self.base.rowids, rows).astype(np.int64)
        return rows.astype(np.int64) + int(self.base.meta["rowid_base"] or 0)

    def search(
        self, codes: npt.NDArray[np.uint64], *, radius: int
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.int16]]:
        """Every (query, row id, distance) within ``radius`` (exact)."""
        a: SearchResult = self.base_index.search(codes, radius=radius)
        b: SearchResult = self.delta.search(codes, radius=radius)
        return (
            np.concatenate([a.query, b.query]),
            np.concatenate([self._rowids(a.row), np.take(self.delta_rowids, b.row)]),
            np.concatenate([a.distance, b.distance]),
        )


def _check_id(eid: str) -> None:
    if not eid or len(eid) > 512:
        raise BankError("an entry id has 1 to 512 characters", code="bad_id")


def _hash_media(data: bytes, *, fps: float) -> Hashed | NotHashable | VideoHashes:
    """Hash a picture, or a video when the bytes are not a picture."""
    try:
        return hash_bytes(data)
    except PdqError as exc:
        if exc.code != "unsupported_format":
            raise
    try:
        return hash_video(data, fps=fps)
    except PdqError as exc:
        if exc.code in ("missing_dependency",):
            raise PdqError(
                "not a picture format that can be decoded (and PyAV, needed for video, is "
                "not installed)",
                code="unsupported_format",
            ) from None
        if exc.code in ("corrupt", "unsupported_format"):
            raise PdqError(
                "neither a picture nor a video that can be decoded", code="unsupported_format"
            ) from None
        raise


def _best_unhashable(video: VideoHashes) -> NotHashable:
    frames = [f.result for f in video.frames if isinstance(f.result, NotHashable)]
    return max(frames, key=lambda r: r.quality)


def _video_matches(
    video: VideoHashes,
    bank: Bank,
    max_distance: int,
    skip: Collection[str] = (),
) -> tuple[tuple[BankMatch, ...], int]:
    frames = video.hashable
    per_frame = bank.match_batch(
        [f.result.variants for f in frames if isinstance(f.result, Hashed)],
        max_distance=max_distance,
    )
    groups: dict[str, dict[str, Any]] = {}
    for frame, matches in zip(frames, per_frame, strict=True):
        for m in matches:
            key = m.entry_id.split(FRAME_SEPARATOR, 1)[0]
            if key in skip:
                continue
            g = groups.setdefault(key, {"best": m, "matched": set(), "first": None})
            if (m.distance, m.entry_id) < (g["best"].distance, g["best"].entry_id):
                g["best"] = m
            if m.band == "MATCH":
                g["matched"].add(frame.time)
                if g["first"] is None or frame.time < g["first"]:
                    g["first"] = frame.time
    out = []
    for key, g in groups.items():
        best: BankMatch = g["best"]
        detail: dict[str, Any] = {
            "media": "video",
            "signal": "frame_pdq",
            "frames_searched": len(frames),
            "frames_matched": len(g["matched"]),
            "frame_share": round(len(g["matched"]) / len(frames), 4),
            "best_entry": best.entry_id,
        }
        if g["first"] is not None:
            detail["first_match_time"] = round(g["first"], 3)
        out.append(
            BankMatch(
                bank=best.bank,
                entry_id=key,
                distance=best.distance,
                band=best.band,
                variant=best.variant,
                label=best.label,
                case=best.case,
                detail=detail,
            )
        )
    out.sort(key=lambda m: (m.distance, -(m.detail or {}).get("frame_share", 0), m.entry_id))
    return tuple(out), len(frames)


def apply_allow_lists(
    matches: Sequence[BankMatch], negative: Iterable[str]
) -> tuple[BankMatch, ...]:
    """Let negative banks (allow-lists) suppress the other banks' matches of one query.

    A ``MATCH`` in a negative bank becomes band ``ALLOWED``; when there is one, every
    ``MATCH`` or ``REVIEW`` of the other banks becomes band ``SUPPRESSED`` with
    ``detail.suppressed_by`` naming the allow-list entry (``BANK/ENTRY``). The record thus
    shows both what matched and why it is not acted on.

    Parameters
    ----------
    matches
        A query's matches in every bank.
    negative
        Names of the negative banks.

    Returns
    -------
    tuple of BankMatch
        The matches, in the same order.
    """
    neg = set(negative)
    if not neg:
        return tuple(matches)
    allowed = [m for m in matches if m.bank in neg and m.band == "MATCH"]
    out = []
    for m in matches:
        if m.bank in neg:
            if m.band == "MATCH":
                m = dataclasses.replace(m, band="ALLOWED")
        elif allowed:
            by = allowed[0]
            detail = {**(m.detail or {}), "suppressed_by": f"{by.bank}/{by.entry_id}"}
            m = dataclasses.replace(m, band="SUPPRESSED", detail=detail)
        out.append(m)
    return tuple(out)


def negative_names(banks: Sequence[Bank]) -> set[str]:
    """Names of the banks configured ``negative`` (allow-lists)."""
    return _negative(banks)


def _negative(banks: Sequence[Bank]) -> set[str]:
    return {b.name for b in banks if b.kind == "negative"}


def lookup_file(
    data_or_path: bytes | str | Path,
    banks: Sequence[Bank],
    *,
    max_distance: int = REVIEW_MAX,
    fps: float = 1.0,
    allow_lists: Sequence[Bank] = (),
) -> Lookup | NotHashable:
    """Hash a picture or video and look it up in banks.

    Parameters
    ----------
    data_or_path
        The file's bytes, or its path.
    banks
        Banks to search (may be empty: the file is still hashed).
    max_distance
        Largest distance reported (52 includes the ``REVIEW`` band; 31 gives only
        ``MATCH``).
    fps
        Video frame sampling rate.
    allow_lists
        Banks searched as negative banks whatever their configured kind (banks
        configured ``negative`` among ``banks`` act so too): see :func:`apply_allow_lists`.

    Returns
    -------
    Lookup | NotHashable
        The hash and matches, or why the picture cannot be matched (quality < 50; for a
        video, no sampled frame reached quality 50).

    Raises
    ------
    InputFileError
        When the path cannot be read.
    PdqError
        When the bytes are neither a decodable picture nor (with PyAV) a video.
    """
    data = data_or_path if isinstance(data_or_path, bytes) else read_input(data_or_path)
    hashed = _hash_media(data, fps=fps)
    negative = _negative(banks) | {b.name for b in allow_lists}
    banks = [*banks, *allow_lists]
    if isinstance(hashed, NotHashable):
        return hashed
    if isinstance(hashed, Hashed):
        found: list[BankMatch] = []
        for bank in banks:
            found.extend(bank.match_hashes(hashed.variants, max_distance=max_distance))
        found.sort(key=lambda m: (m.distance, m.bank, m.entry_id))
        return Lookup(
            media="picture",
            pdq=hashed.hash,
            quality=hashed.quality,
            matches=apply_allow_lists(found, negative),
            variants=hashed.variants,
        )
    frames = hashed.hashable
    if not frames:
        return _best_unhashable(hashed)
    vq = hash_video_vpdq(data) if vpdq_available() else None
    video_found: list[BankMatch] = []
    for bank in banks:
        by_vpdq = bank.match_video(vq) if vq is not None else ()
        video_found.extend(by_vpdq)
        # Frame PDQ adds what vPDQ cannot see (mirrored/rotated copies, excerpts below its
        # 80 % share, pictures seen in the video); a video vPDQ matched is not repeated.
        skip = {m.entry_id for m in by_vpdq}
        video_found.extend(_video_matches(hashed, bank, max_distance, skip)[0])
    video_found.sort(key=lambda m: (m.distance, m.bank, m.entry_id))
    qualities = sorted(f.result.quality for f in frames if isinstance(f.result, Hashed))
    return Lookup(
        media="video",
        pdq=None,
        quality=qualities[len(qualities) // 2],
        matches=apply_allow_lists(video_found, negative),
        frames=len(frames),
        vpdq=vq,
    )


def match_file(
    data_or_path: bytes | str | Path,
    banks: Sequence[Bank],
    *,
    max_distance: int = REVIEW_MAX,
) -> tuple[BankMatch, ...]:
    """Return a file's matches in banks (the call ``check()`` makes for ``--bank``).

    Free when ``banks`` is empty: nothing is read or hashed. A picture too flat to hash
    (quality < 50) has no matches; use :func:`lookup_file` to tell that apart.

    Parameters
    ----------
    data_or_path
        The file's bytes, or its path.
    banks
        Open banks (:meth:`Bank.open`).
    max_distance
        Largest distance reported (default 52: ``MATCH`` and ``REVIEW`` bands).

    Returns
    -------
    tuple of BankMatch
        Matches in every bank, best first.

    Raises
    ------
    InputFileError
        When the path cannot be read.
    PdqError
        When the bytes are neither a decodable picture nor (with PyAV) a video.

    Examples
    --------
    >>> match_file(b"not even read", [])
    ()
    """
    if not banks:
        return ()
    result = lookup_file(data_or_path, banks, max_distance=max_distance)
    return result.matches if isinstance(result, Lookup) else ()


def stored_hashes(lookup: Lookup, data: bytes) -> ContentHashes:
    """The hashes of a lookup that ``verify bank rescan`` needs (no pixels are kept).

    Parameters
    ----------
    lookup
        A picture's or video's lookup (:func:`lookup_file`).
    data
        The file's bytes (a video's MD5 when the ``vpdq`` package gave none).

    Returns
    -------
    ContentHashes
        A picture: its PDQ hash, quality and 8 rotation/flip hashes; a video: its vPDQ
        signal (when computed), MD5, median quality and frames searched.
    """
    if lookup.media == "picture":
        return ContentHashes(
            media="picture",
            quality=lookup.quality,
            pdq=lookup.pdq.hex if lookup.pdq is not None else None,
            pdq_variants=tuple(h.hex for h in lookup.variants),
        )
    vq = lookup.vpdq
    md5 = vq.md5 if vq is not None and vq.md5 else hashlib.md5(data).hexdigest()
    return ContentHashes(
        media="video",
        quality=lookup.quality,
        vpdq=vq.to_signal() if vq is not None else None,
        md5=md5,
        frames=lookup.frames,
    )


def match_file_hashes(
    data: bytes, banks: Sequence[Bank], *, max_distance: int = REVIEW_MAX
) -> tuple[tuple[BankMatch, ...], ContentHashes | None]:
    """Like :func:`match_file`, with the hashes the lookup used (``check()`` keeps them in
    the report for ``verify bank rescan``).

    Returns
    -------
    tuple
        The matches, and the hashes (None when ``banks`` is empty or the picture is too
        flat to hash).

    Raises
    ------
    PdqError
        When the bytes are neither a decodable picture nor (with PyAV) a video.
    """
    if not banks:
        return (), None
    result = lookup_file(data, banks, max_distance=max_distance)
    if not isinstance(result, Lookup):
        return (), None
    return result.matches, stored_hashes(result, data)
