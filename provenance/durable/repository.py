"""A manifest repository: signed manifest stores, findable by watermark and fingerprint.

A repository is one SQLite file (WAL journal, ``synchronous = FULL``) holding, for every
published asset, its C2PA manifest store under a manifest identifier (16 hex digits, the
watermark payload), the soft bindings it declares (watermark identifiers and PDQ
fingerprints) and a few facts about the published file. Every :meth:`Repository.put` is
one transaction that is committed (and synced) before it returns, so a process killed at
any moment loses nothing that was already reported stored, and a half-written entry is
never visible.

Lookups follow the soft-binding resolution API: :meth:`Repository.by_binding` matches a
watermark value exactly and a fingerprint by Hamming distance
(:data:`FINGERPRINT_MAX_DISTANCE`). The file is safe to read from several processes while
one writes (the resolver server reads while ``verify sign --watermark`` writes).

Examples
--------
>>> import tempfile, pathlib
>>> from provenance.durable.softbinding import WATERMARK_ALG
>>> path = pathlib.Path(tempfile.mkdtemp()) / "repo.db"
>>> with Repository.open(path, create=True) as repo:
...     _ = repo.put(b"store bytes", manifest_id="0123456789abcdef",
...                  bindings=[Binding(WATERMARK_ALG, bytes.fromhex("0123456789abcdef"))])
...     [m.manifest_id for m in repo.by_binding(WATERMARK_ALG, bytes.fromhex("0123456789abcdef"))]
['0123456789abcdef']
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, ParamSpec, TypeVar

import numpy as np

from provenance._clock import utc_text
from provenance._sqlite import ensure_schema, open_database, transaction
from provenance.durable.softbinding import FINGERPRINT_ALG, SUPPORTED_ALGS, WATERMARK_ALG
from provenance.errors import RepositoryError

__all__ = [
    "FINGERPRINT_MAX_DISTANCE",
    "Binding",
    "Match",
    "Repository",
    "RepositoryError",
    "StoredManifest",
]

SCHEMA_VERSION: Final = 1
APPLICATION_ID: Final = 0x4A4A5250
"""SQLite ``application_id`` of a repository file ("JJRP")."""

FINGERPRINT_MAX_DISTANCE: Final = 31
"""Largest PDQ Hamming distance (of 256 bits) reported as a fingerprint match (PDQ's own
"match" threshold; unrelated pictures sit near 128)."""

MAX_STORE_BYTES: Final = 64 * 1024 * 1024
"""Largest manifest store accepted."""

_ID_RE: Final = re.compile(r"^[0-9a-f]{16}$")

_SCHEMA: Final = """
CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL);
CREATE TABLE manifests (
    manifest_id TEXT PRIMARY KEY,
    label TEXT,
    store BLOB NOT NULL,
    media_type TEXT,
    title TEXT,
    sha256 TEXT,
    width INTEGER,
    height INTEGER,
    stored_at TEXT NOT NULL
);
CREATE INDEX manifests_label ON manifests(label);
CREATE TABLE bindings (
    manifest_id TEXT NOT NULL REFERENCES manifests(manifest_id) ON DELETE CASCADE,
    alg TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (alg, value, manifest_id)
);
CREATE INDEX bindings_manifest ON bindings(manifest_id);
CREATE TABLE receipts (
    manifest_id TEXT PRIMARY KEY REFERENCES manifests(manifest_id) ON DELETE CASCADE,
    receipt TEXT NOT NULL,
    public_key BLOB NOT NULL,
    issued_at TEXT NOT NULL
);
"""
_RECEIPTS: Final = (
    "CREATE TABLE IF NOT EXISTS receipts (manifest_id TEXT PRIMARY KEY REFERENCES"
    " manifests(manifest_id) ON DELETE CASCADE, receipt TEXT NOT NULL, public_key BLOB NOT NULL,"
    " issued_at TEXT NOT NULL)"
)


@dataclass(frozen=True)
class Binding:
    """One soft binding: an algorithm name and its algorithm-specific value."""

    alg: str
    """Algorithm name (:data:`~provenance.durable.softbinding.WATERMARK_ALG`, ...)."""
    value: bytes
    """The value (8-byte watermark identifier, 32-byte PDQ digest)."""


@dataclass(frozen=True)
class StoredManifest:
    """What the repository knows about one stored manifest store."""

    manifest_id: str
    """16 lowercase hex digits (the watermark payload)."""
    label: str | None
    """Label of the active manifest (``urn:c2pa:...``)."""
    size: int
    """Size of the manifest store in bytes."""
    media_type: str | None
    """Media type of the published file."""
    title: str | None
    """Title of the published file."""
    sha256: str | None
    """SHA-256 of the published file (hex)."""
    width: int | None
    """Pixel width of the published file."""
    height: int | None
    """Pixel height of the published file."""
    stored_at: str
    """When it was stored (RFC 3339 UTC)."""
    bindings: tuple[Binding, ...] = ()
    """The soft bindings it can be found by."""


@dataclass(frozen=True)
class Match:
    """One manifest found by a soft-binding lookup."""

    manifest_id: str
    """The identifier to fetch with :meth:`Repository.get`."""
    alg: str
    """The algorithm that matched."""
    similarity: int
    """0-100: 100 for an exact watermark identifier, ``round(100 (1 - d/256))`` for a
    fingerprint at Hamming distance ``d``."""
    distance: int | None = None
    """PDQ Hamming distance (fingerprints only)."""


P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        assert isinstance(self, Repository)
        with self._lock:
            try:
                return method(*args, **kwargs)
            except sqlite3.Error as exc:
                raise RepositoryError(
                    f"repository {self.path}: {exc}", code="repository_io"
                ) from None

    return wrapper


def check_manifest_id(manifest_id: str) -> str:
    """Return ``manifest_id`` lower-cased, or raise when it is not 16 hex digits.

    Raises
    ------
    RepositoryError
        ``bad_manifest_id``.
    """
    text = manifest_id.strip().lower() if isinstance(manifest_id, str) else ""
    if not _ID_RE.match(text):
        raise RepositoryError(
            f"a manifest identifier is 16 hex digits, not {manifest_id!r}", code="bad_manifest_id"
        )
    return text


def _popcount_rows(x: np.ndarray[Any, np.dtype[np.uint8]]) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.asarray(np.unpackbits(x, axis=1).sum(axis=1, dtype=np.int64), dtype=np.int64)


class Repository:
    """A manifest repository backed by a SQLite file.

    Use :meth:`open`; close with :meth:`close` or a ``with`` block. All methods are safe to
    call from several threads.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        """Path of the repository file."""
        self._lock = threading.RLock()
        self._fp_version: int | None = None
        self._fp_ids: list[str] = []
        self._fp_codes = np.zeros((0, 32), dtype=np.uint8)

    @classmethod
    def open(cls, path: str | Path, *, create: bool = False) -> Repository:
        """Open a repository file, or create it.

        Parameters
        ----------
        path
            Path of the SQLite file.
        create
            Create the file when it is missing (its directory must exist).

        Returns
        -------
        Repository
            The open repository.

        Raises
        ------
        RepositoryError
            When the file is missing (and ``create`` is false), is not a repository, or was
            written by a newer version.
        """
        conn, p, _ = open_database(
            path,
            create=create,
            error=RepositoryError,
            kind="manifest repository",
            bad_code="not_a_repository",
            prepare=cls._prepare,
        )
        return cls(conn, p)

    @staticmethod
    def _prepare(conn: sqlite3.Connection, p: Path) -> None:
        ensure_schema(
            conn,
            p,
            application_id=APPLICATION_ID,
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            tables={"schema_version", "manifests", "bindings"},
            error=RepositoryError,
            kind="manifest repository",
            bad_code="not_a_repository",
        )
        conn.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Repository({str(self.path)!r})"

    @_locked
    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM manifests").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        """SQLite journal mode (``wal``)."""
        with self._lock:
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- writing -----------------------------------------------------------------------
    @_locked
    def put(
        self,
        store: bytes,
        *,
        manifest_id: str,
        bindings: Iterable[Binding],
        label: str | None = None,
        media_type: str | None = None,
        title: str | None = None,
        sha256: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredManifest:
        """Store a manifest store and its soft bindings in one committed transaction.

        Parameters
        ----------
        store
            The C2PA manifest store (``application/c2pa`` bytes).
        manifest_id
            16 hex digits; the watermark identifier.
        bindings
            Soft bindings the manifest can be found by.
        label, media_type, title, sha256, width, height
            Facts about the published file, used in recovery reports.

        Returns
        -------
        StoredManifest
            What was stored; it is on disk when this returns.

        Raises
        ------
        RepositoryError
            ``bad_manifest_id``, ``bad_binding``, ``store_too_large``, ``empty_store`` or
            ``duplicate_manifest_id`` (an identifier is never reused).
        """
        mid = check_manifest_id(manifest_id)
        if not store:
            raise RepositoryError("the manifest store is empty", code="empty_store")
        if len(store) > MAX_STORE_BYTES:
            raise RepositoryError(
                f"the manifest store is {len(store)} bytes; at most {MAX_STORE_BYTES}",
                code="store_too_large",
            )
        items = list(dict.fromkeys(bindings))
        for b in items:
            _check_binding(b)
        stamp = utc_text()
        conn = self._conn
        with transaction(conn):
            try:
                conn.execute(
                    "INSERT INTO manifests (manifest_id, label, store, media_type, title, sha256,"
                    " width, height, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (mid, label, bytes(store), media_type, title, sha256, width, height, stamp),
                )
            except sqlite3.IntegrityError:
                raise RepositoryError(
                    f"manifest identifier {mid} is already stored", code="duplicate_manifest_id"
                ) from None
            conn.executemany(
                "INSERT INTO bindings (manifest_id, alg, value) VALUES (?, ?, ?)",
                [(mid, b.alg, bytes(b.value)) for b in items],
            )
        return StoredManifest(
            manifest_id=mid,
            label=label,
            size=len(store),
            media_type=media_type,
            title=title,
            sha256=sha256,
            width=width,
            height=height,
            stored_at=stamp,
            bindings=tuple(items),
        )

    @_locked
    def remove(self, manifest_id: str) -> bool:
        """Delete one manifest, its bindings and its receipt; return whether it existed."""
        mid = self._resolve(manifest_id)
        if mid is None:
            return False
        conn = self._conn
        with transaction(conn):
            conn.execute("DELETE FROM bindings WHERE manifest_id = ?", (mid,))
            if self._has_receipts():
                conn.execute("DELETE FROM receipts WHERE manifest_id = ?", (mid,))
            cur = conn.execute("DELETE FROM manifests WHERE manifest_id = ?", (mid,))
        return cur.rowcount > 0

    @_locked
    def bind(self, binding: Binding, manifest_id: str, *, replace: bool = False) -> bool:
        """Add a soft binding to a stored manifest, or move an existing one to it.

        Parameters
        ----------
        binding
            The binding (its value must have the algorithm's length).
        manifest_id
            16 hex digits or active-manifest label of a stored manifest.
        replace
            Move: the binding must already exist (for any manifest) and afterwards points
            to ``manifest_id`` only.

        Returns
        -------
        bool
            False when the manifest is unknown, or (``replace``) the binding is unknown.
        """
        _check_binding(binding)
        mid = self._resolve(manifest_id)
        conn = self._conn
        if mid is None or not self._exists(mid):
            return False
        key = (binding.alg, bytes(binding.value))
        with transaction(conn):
            if replace:
                cur = conn.execute("DELETE FROM bindings WHERE alg = ? AND value = ?", key)
                if cur.rowcount == 0:  # nothing changed: committing is the same as rolling back
                    return False
            conn.execute(
                "INSERT OR IGNORE INTO bindings (manifest_id, alg, value) VALUES (?, ?, ?)",
                (mid, *key),
            )
        return True

    @_locked
    def put_receipt(
        self, manifest_id: str, receipt: str, *, public_key: bytes, issued_at: str
    ) -> None:
        """Keep the receipt (JSON text) issued for a stored manifest, replacing an older one."""
        mid = self._resolve(manifest_id)
        if mid is None or not self._exists(mid):
            raise RepositoryError(f"no manifest {manifest_id!r}", code="not_found")
        conn = self._conn
        with transaction(conn):
            conn.execute(_RECEIPTS)
            conn.execute(
                "INSERT OR REPLACE INTO receipts (manifest_id, receipt, public_key, issued_at)"
                " VALUES (?, ?, ?, ?)",
                (mid, receipt, bytes(public_key), issued_at),
            )

    @_locked
    def receipt(self, manifest_id: str) -> tuple[str, bytes] | None:
        """The receipt (JSON text) kept for a manifest and the public key it was signed with."""
        mid = self._resolve(manifest_id)
        if mid is None or not self._has_receipts():
            return None
        row = self._conn.execute(
            "SELECT receipt, public_key FROM receipts WHERE manifest_id = ?", (mid,)
        ).fetchone()
        return (str(row[0]), bytes(row[1])) if row else None

    def _has_receipts(self) -> bool:
        return (
            self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'receipts'"
            ).fetchone()
            is not None
        )

    def _exists(self, mid: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM manifests WHERE manifest_id = ?", (mid,))
        return row.fetchone() is not None

    @_locked
    def ping(self) -> None:
        """Read the file once (raises ``repository_io`` when it cannot be read)."""
        self._conn.execute("SELECT count(*) FROM schema_version").fetchone()

    # -- reading -----------------------------------------------------------------------
    def _resolve(self, manifest_id: str) -> str | None:
        text = manifest_id.strip()
        if _ID_RE.match(text.lower()):
            return text.lower()
        row = self._conn.execute(
            "SELECT manifest_id FROM manifests WHERE label = ? ORDER BY stored_at LIMIT 1",
            (text,),
        ).fetchone()
        return str(row[0]) if row else None

    @_locked
    def get(self, manifest_id: str) -> bytes | None:
        """Return the manifest store stored under an identifier or active-manifest label.

        Parameters
        ----------
        manifest_id
            16 hex digits, or the ``urn:c2pa:...`` label of the active manifest.

        Returns
        -------
        bytes or None
            The store, or None when nothing is stored under that name.
        """
        mid = self._resolve(manifest_id)
        if mid is None:
            return None
        row = self._conn.execute(
            "SELECT store FROM manifests WHERE manifest_id = ?", (mid,)
        ).fetchone()
        return bytes(row[0]) if row else None

    @_locked
    def info(self, manifest_id: str) -> StoredManifest | None:
        """Return what is known about a stored manifest (None when absent)."""
        mid = self._resolve(manifest_id)
        if mid is None:
            return None
        row = self._conn.execute(
            "SELECT manifest_id, label, length(store), media_type, title, sha256, width, height,"
            " stored_at FROM manifests WHERE manifest_id = ?",
            (mid,),
        ).fetchone()
        if row is None:
            return None
        bindings = tuple(
            Binding(str(a), bytes(v))
            for a, v in self._conn.execute(
                "SELECT alg, value FROM bindings WHERE manifest_id = ? ORDER BY alg", (mid,)
            )
        )
        return StoredManifest(
            manifest_id=row[0],
            label=row[1],
            size=int(row[2]),
            media_type=row[3],
            title=row[4],
            sha256=row[5],
            width=row[6],
            height=row[7],
            stored_at=row[8],
            bindings=bindings,
        )

    @_locked
    def ids(self) -> list[str]:
        """All manifest identifiers, oldest first."""
        return [
            str(r[0])
            for r in self._conn.execute("SELECT manifest_id FROM manifests ORDER BY rowid")
        ]

    def _fingerprints(self) -> tuple[list[str], np.ndarray[Any, np.dtype[np.uint8]]]:
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        count = int(self._conn.execute("SELECT total_changes()").fetchone()[0])
        key = version * 1_000_003 + count
        if self._fp_version != key:
            rows = self._conn.execute(
                "SELECT manifest_id, value FROM bindings WHERE alg = ? AND length(value) = 32"
                " ORDER BY rowid",
                (FINGERPRINT_ALG,),
            ).fetchall()
            self._fp_ids = [str(r[0]) for r in rows]
            self._fp_codes = (
                np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype=np.uint8).reshape(-1, 32)
                if rows
                else np.zeros((0, 32), dtype=np.uint8)
            )
            self._fp_version = key
        return self._fp_ids, self._fp_codes

    @_locked
    def by_binding(
        self,
        alg: str,
        value: bytes,
        *,
        max_results: int = 10,
        max_distance: int = FINGERPRINT_MAX_DISTANCE,
    ) -> list[Match]:
        """Find manifests by one soft binding.

        Parameters
        ----------
        alg
            :data:`~provenance.durable.softbinding.WATERMARK_ALG` (exact identifier) or
            :data:`~provenance.durable.softbinding.FINGERPRINT_ALG` (PDQ, by Hamming distance).
        value
            The algorithm-specific value (8 or 32 bytes).
        max_results
            Return at most this many, best first.
        max_distance
            Largest PDQ distance reported (fingerprints only).

        Returns
        -------
        list of Match
            Best first (highest similarity, then oldest).

        Raises
        ------
        RepositoryError
            ``unsupported_alg`` or ``bad_binding`` (wrong value length).
        """
        _check_binding(Binding(alg, value))
        if max_results < 1:
            raise RepositoryError("maxResults must be at least 1", code="bad_request")
        if alg == WATERMARK_ALG:
            rows = self._conn.execute(
                "SELECT manifest_id FROM bindings WHERE alg = ? AND value = ? ORDER BY rowid"
                " LIMIT ?",
                (alg, bytes(value), max_results),
            ).fetchall()
            return [Match(str(r[0]), alg, 100) for r in rows]
        return self._nearest([bytes(value)], max_results=max_results, max_distance=max_distance)

    @_locked
    def by_fingerprints(
        self,
        digests: Sequence[bytes],
        *,
        max_results: int = 10,
        max_distance: int = FINGERPRINT_MAX_DISTANCE,
    ) -> list[Match]:
        """Find manifests whose PDQ fingerprint is near any of ``digests``.

        Pass the 8 rotation/flip variants of a query to find rotated or mirrored copies.

        Returns
        -------
        list of Match
            One per manifest (its smallest distance), nearest first.
        """
        for d in digests:
            _check_binding(Binding(FINGERPRINT_ALG, d))
        return self._nearest(list(digests), max_results=max_results, max_distance=max_distance)

    def _nearest(self, digests: list[bytes], *, max_results: int, max_distance: int) -> list[Match]:
        ids, codes = self._fingerprints()
        if not ids or not digests:
            return []
        q = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32)
        # Equivalent to: d[i] = min_j popcount(codes[i] ^ q[j])
        dist = np.min(np.stack([_popcount_rows(np.bitwise_xor(codes, row)) for row in q]), axis=0)
        best: dict[str, tuple[int, int]] = {}
        for i in np.flatnonzero(dist <= max_distance):
            mid, d = ids[int(i)], int(dist[int(i)])
            if mid not in best or d < best[mid][0]:
                best[mid] = (d, best[mid][1] if mid in best else int(i))
        ranked = sorted(best.items(), key=lambda kv: kv[1])[:max_results]
        return [
            Match(mid, FINGERPRINT_ALG, round(100 * (1 - d / 256)), distance=d)
            for mid, (d, _) in ranked
        ]


def _check_binding(b: Binding) -> None:
    if b.alg not in SUPPORTED_ALGS:
        raise RepositoryError(
            f"unsupported soft-binding algorithm {b.alg!r} (supported: "
            f"{', '.join(sorted(SUPPORTED_ALGS))})",
            code="unsupported_alg",
        )
    want = 8 if b.alg == WATERMARK_ALG else 32
    if not isinstance(b.value, bytes | bytearray) or len(b.value) != want:
        size = len(b.value) if isinstance(b.value, bytes | bytearray) else "?"
        raise RepositoryError(f"a {b.alg} value is {want} bytes, not {size}", code="bad_binding")
