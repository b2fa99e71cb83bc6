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

import csv
import functools
import hashlib
import itertools
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Concatenate, Final, Literal, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from provenance._clock import utc_text
from provenance._sqlite import ensure_schema, open_database, transaction
from provenance.errors import BankError
from provenance.matching.hamming import HammingIndex, pack
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
from provenance.report import BankMatch

__all__ = [
    "APPLICATION_ID",
    "MATCH_MAX",
    "REVIEW_MAX",
    "SCHEMA_VERSION",
    "Added",
    "Bank",
    "BankEntry",
    "BankError",
    "ImportResult",
    "InvalidRow",
    "Lookup",
    "band",
    "lookup_file",
    "match_file",
]

SCHEMA_VERSION: Final = 1
"""Version of the bank file format written by this code (``schema_version`` table)."""
APPLICATION_ID: Final = 0x4A4A424B
"""SQLite ``application_id`` of a bank file ("JJBK")."""
MATCH_MAX: Final = 31
"""Largest distance reported as ``MATCH`` (ThreatExchange ``PDQ_CONFIDENT_MATCH_THRESHOLD``)."""
REVIEW_MAX: Final = 52
"""Largest distance reported at all, as ``REVIEW`` (HMA's flat-index threshold)."""
FRAME_SEPARATOR: Final = "#t="
"""Entry ids ``ID#t=SECONDS`` are frames of the video ``ID`` (W3C media-fragment style)."""

_SCHEMA: Final = """
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
    added_at TEXT NOT NULL
);
"""

_EXPORT_COLUMNS: Final = ("id", "pdq", "quality", "label", "case", "source", "added_at")
_HEX64: Final = re.compile(r"[0-9a-fA-F]{64}")
_HASH_COLUMNS: Final = ("pdq", "hash", "pdq_hash", "hash_value", "hashvalue", "signal_value")
_ID_COLUMNS: Final = ("id", "entry_id", "hash_id", "content_id", "bank_content_id")
_QUALITY_COLUMNS: Final = ("quality", "pdq_quality")
_LABEL_COLUMNS: Final = ("label", "tags", "tag")
_CASE_COLUMNS: Final = ("case", "case_id", "case_number", "casenumbers", "case_numbers")
_INSERT_BATCH: Final = 50_000
_LOAD_BATCH: Final = 100_000


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
        self._index: HammingIndex | None = None
        self._index_rowids: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self._index_rowid_base: int | None = None
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
                "INSERT INTO bank_info VALUES ('name', ?), ('created_at', ?)",
                (name or p.stem, utc_text()),
            ),
        )
        row = conn.execute("SELECT value FROM bank_info WHERE key = 'name'").fetchone()
        return str(row[0]) if row else p.stem

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
                conn.executemany(
                    "INSERT INTO entries (entry_id, hash, quality, label, case_id, source,"
                    " added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
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
        return Added(
            entry_ids=tuple(ids),
            new=len(rows),
            quality=min(h.quality if h.quality is not None else 100 for _, h in items),
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
                deleted = 0
                for eid in entry_ids:
                    escaped = eid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    cur = conn.execute(
                        "DELETE FROM entries WHERE entry_id = ? OR entry_id LIKE ? ESCAPE '\\'",
                        (eid, escaped + FRAME_SEPARATOR + "%"),
                    )
                    deleted += cur.rowcount
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
                for i in range(0, len(fresh), _INSERT_BATCH):
                    conn.executemany(
                        "INSERT INTO entries (entry_id, hash, quality, label, case_id, source, "
                        "added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        fresh[i : i + _INSERT_BATCH],
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

    @_locked
    def index(self) -> HammingIndex:
        """Return the in-memory index, (re)building it when the file changed.

        Returns
        -------
        HammingIndex
            Index over every entry's hash.
        """
        version = self._version()
        if self._index is None or version != self._index_version:
            with transaction(
                self._conn, immediate=False
            ):  # one snapshot for the count, ids and hashes
                n = int(self._conn.execute("SELECT count(*) FROM entries").fetchone()[0])
                codes = np.empty((n, 4), dtype=np.uint64)
                rowids = np.empty(n, dtype=np.int64)
                cur = self._conn.execute("SELECT id, hash FROM entries ORDER BY id")
                i = 0
                # Streamed in batches: a list of 10 M row tuples would need ~1.5 GB.
                while batch := cur.fetchmany(_LOAD_BATCH):
                    k = len(batch)
                    codes[i : i + k] = pack(b"".join(h for _, h in batch))
                    rowids[i : i + k] = np.fromiter((r for r, _ in batch), np.int64, count=k)
                    i += k
            # Row ids are usually 1..N in order: then keep only the first (saves 8 B/hash).
            if n and int(rowids[-1]) - int(rowids[0]) == n - 1:
                self._index_rowid_base = int(rowids[0])
                self._index_rowids = np.empty(0, np.int64)
            else:
                self._index_rowid_base = None
                self._index_rowids = rowids
            del rowids
            self._index = HammingIndex(codes)
            self._index_version = version
        return self._index

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
        hits = index.search(codes, radius=max_distance)
        for k, row, d in zip(
            hits.query.tolist(), hits.row.tolist(), hits.distance.tolist(), strict=True
        ):
            qi, vi, _ = flat[k]
            base = self._index_rowid_base
            rowid = base + row if base is not None else int(self._index_rowids[row])
            best = out[qi].get(rowid)
            if best is None or (d, vi) < best:
                out[qi][rowid] = (d, vi)
        return out

    def _metadata(
        self, rowids: Iterable[int]
    ) -> dict[int, tuple[str, str | None, str | None, int | None]]:
        ids = sorted(set(rowids))
        meta: dict[int, tuple[str, str | None, str | None, int | None]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for rid, eid, label, case, quality in self._conn.execute(
                f"SELECT id, entry_id, label, case_id, quality FROM entries WHERE id IN ({marks})",
                part,
            ):
                meta[rid] = (eid, label, case, quality)
        return meta

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
        found = self._search(queries, max_distance)
        meta = self._metadata(r for hits in found for r in hits)
        results: list[tuple[BankMatch, ...]] = []
        for hits in found:
            matches = []
            for rowid, (d, vi) in hits.items():
                eid, label, case, quality = meta[rowid]
                matches.append(
                    BankMatch(
                        bank=self.name,
                        entry_id=eid,
                        distance=d,
                        band=band(d) or "REVIEW",
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
    video: VideoHashes, bank: Bank, max_distance: int
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


def lookup_file(
    data_or_path: bytes | str | Path,
    banks: Sequence[Bank],
    *,
    max_distance: int = REVIEW_MAX,
    fps: float = 1.0,
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
    if isinstance(hashed, NotHashable):
        return hashed
    if isinstance(hashed, Hashed):
        found: list[BankMatch] = []
        for bank in banks:
            found.extend(bank.match_hashes(hashed.variants, max_distance=max_distance))
        found.sort(key=lambda m: (m.distance, m.bank, m.entry_id))
        return Lookup(
            media="picture", pdq=hashed.hash, quality=hashed.quality, matches=tuple(found)
        )
    frames = hashed.hashable
    if not frames:
        return _best_unhashable(hashed)
    video_found: list[BankMatch] = []
    for bank in banks:
        video_found.extend(_video_matches(hashed, bank, max_distance)[0])
    video_found.sort(key=lambda m: (m.distance, m.bank, m.entry_id))
    qualities = sorted(f.result.quality for f in frames if isinstance(f.result, Hashed))
    return Lookup(
        media="video",
        pdq=None,
        quality=qualities[len(qualities) // 2],
        matches=tuple(video_found),
        frames=len(frames),
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
