"""The persisted bank index: hashes and multi-index tables in one memory-mapped file.

A bank ``known.db`` keeps its index beside it in ``known.db.idx`` (format in
``spec/bank.md``): a 4 KiB header (magic line, then JSON naming the bank, the rows it
covers and where each array starts) followed by page-aligned arrays:

* ``codes``: ``(N, 4)`` ``uint64``, the packed hashes of rows ``id <= max_rowid``;
* ``rowids``: ``(N,)`` ``int64``, their SQLite row ids (absent when they are the
  contiguous run ``rowid_base .. rowid_base + N - 1``);
* for each multi-index chunk ``k``: ``order{k}`` (``uint32`` row numbers grouped by
  chunk value) and ``offsets{k}`` (``uint32`` bucket starts), the tables of
  :class:`~provenance.matching.hamming.MultiIndexHash`.

Opening maps the arrays read-only (``numpy.memmap``): nothing is read until a search
touches it, so start-up does not grow with the bank and several processes share one copy
in the page cache. The file is written to a temporary name and renamed, so readers see
either the old or the new index, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from provenance.matching.hamming import MultiIndexHash

__all__ = ["INDEX_FORMAT", "IndexFile", "index_path", "load_index", "save_index"]

INDEX_FORMAT: Final = 1
"""Version of the index file layout written by this code."""
MAGIC: Final = b"JJBK-INDEX\n"
HEADER_SIZE: Final = 4096
ALIGN: Final = 4096


def index_path(bank_path: Path) -> Path:
    """Return where a bank's index file lives (``BANK.db`` -> ``BANK.db.idx``)."""
    return bank_path.with_name(bank_path.name + ".idx")


@dataclass(frozen=True)
class IndexFile:
    """A loaded (memory-mapped) index file."""

    meta: dict[str, Any]
    """The header: ``format``, ``bank``, ``rows``, ``max_rowid``, ``rowid_base``, ``chunks``,
    ``first_digest``, ``last_digest``, ``arrays``."""
    codes: npt.NDArray[np.uint64]
    """``(N, 4)`` packed hashes."""
    rowids: npt.NDArray[np.int64] | None
    """Row ids, or None when contiguous from ``meta["rowid_base"]``."""
    mih: MultiIndexHash | None
    """The multi-index tables, when the file has them."""

    @property
    def max_rowid(self) -> int:
        """Largest row id covered (rows added later are searched from the bank file)."""
        return int(self.meta["max_rowid"])


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def save_index(
    path: Path,
    *,
    bank_id: str,
    codes: npt.NDArray[np.uint64],
    rowids: npt.NDArray[np.int64],
    mih: MultiIndexHash | None,
) -> None:
    """Write an index file atomically (temporary file in the same directory, then rename).

    Parameters
    ----------
    path
        Destination (see :func:`index_path`).
    bank_id
        Identity of the bank (its ``bank_info`` uuid).
    codes
        ``(N, 4)`` packed hashes, in row id order.
    rowids
        ``(N,)`` row ids, ascending.
    mih
        Multi-index tables over ``codes``, or None.

    Raises
    ------
    OSError
        When the directory is not writable or the disk is full.
    """
    n = int(codes.shape[0])
    contiguous = n == 0 or int(rowids[-1]) - int(rowids[0]) == n - 1
    arrays: list[tuple[str, npt.NDArray[Any]]] = [("codes", codes)]
    if not contiguous:
        arrays.append(("rowids", rowids))
    if mih is not None:
        for k, (order, offsets) in enumerate(mih.tables()):
            arrays += [(f"order{k}", order), (f"offsets{k}", offsets)]
    layout: list[dict[str, Any]] = []
    offset = HEADER_SIZE
    for name, a in arrays:
        layout.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "at": offset})
        offset = _aligned(offset + a.nbytes)
    meta = {
        "format": INDEX_FORMAT,
        "bank": bank_id,
        "rows": n,
        "max_rowid": int(rowids[-1]) if n else 0,
        "rowid_base": int(rowids[0]) if n and contiguous else None,
        "chunks": mih.chunks if mih is not None else None,
        "first_digest": codes[0].tobytes().hex() if n else None,
        "last_digest": codes[-1].tobytes().hex() if n else None,
        "arrays": layout,
    }
    head = MAGIC + json.dumps(meta, sort_keys=True).encode()
    if len(head) > HEADER_SIZE:
        raise ValueError("index header too large")
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(head.ljust(HEADER_SIZE, b"\0"))
            for (_, a), spec in zip(arrays, layout, strict=True):
                f.seek(int(spec["at"]))
                f.write(np.ascontiguousarray(a).data)
            f.truncate(offset)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as f:
            head = f.read(HEADER_SIZE)
    except OSError:
        return None
    if not head.startswith(MAGIC):
        return None
    try:
        meta = json.loads(head[len(MAGIC) :].rstrip(b"\0"))
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        return None
    return meta


def load_index(path: Path, *, bank_id: str) -> IndexFile | None:
    """Map an index file, or return None when it is missing, damaged or another bank's.

    Parameters
    ----------
    path
        The index file.
    bank_id
        The bank's identity; an index written for another bank is not used.

    Returns
    -------
    IndexFile | None
        The mapped index (arrays are read lazily by the operating system).
    """
    meta = _read_meta(path)
    if meta is None or meta.get("bank") != bank_id:
        return None
    try:
        size = path.stat().st_size
        arrays: dict[str, npt.NDArray[Any]] = {}
        for spec in meta["arrays"]:
            dtype = np.dtype(spec["dtype"])
            shape = tuple(int(s) for s in spec["shape"])
            at = int(spec["at"])
            if at + dtype.itemsize * int(np.prod(shape)) > size:
                return None
            if int(np.prod(shape)) == 0:
                arrays[spec["name"]] = np.empty(shape, dtype)
                continue
            arrays[spec["name"]] = np.memmap(path, dtype=dtype, mode="r", offset=at, shape=shape)
        codes = arrays["codes"]
        if codes.shape[0] != int(meta["rows"]):
            return None
        mih = None
        if meta.get("chunks"):
            m = int(meta["chunks"])
            tables = [(arrays[f"order{k}"], arrays[f"offsets{k}"]) for k in range(m)]
            mih = MultiIndexHash.from_tables(codes, tables)
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return IndexFile(meta=meta, codes=codes, rowids=arrays.get("rowids"), mih=mih)
