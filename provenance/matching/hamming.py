"""Exact Hamming-radius search over 256-bit hashes held in memory.

Hashes are packed as ``(N, 4)`` ``uint64`` rows (32 bytes each). Two searches, both exact:

* :class:`FlatIndex` scans every row: XOR, ``np.bitwise_count``, sum. Cost grows with N;
  it is the fastest choice for small banks and the reference the other index is tested
  against.
* :class:`MultiIndexHash` is Norouzi's multi-index hashing. The 256 bits are cut into
  ``m`` contiguous chunks, and each chunk gets a table ``chunk value -> rows``. If two
  hashes are within distance ``r``, at least one chunk differs in at most ``t = r // m``
  bits (pigeonhole: ``m * (t + 1) > r``). So probing every chunk value within ``t`` flips
  of the query's chunk, in every table, finds every row within ``r``; candidates are
  then checked with the full distance. No hash within ``r`` is ever missed.

The tables are counting-sorted arrays (``order`` of row numbers grouped by chunk value,
``offsets`` of bucket starts), so a probe is two array reads and everything is batched in
numpy: there is no Python loop over rows or queries, only over the ``m`` chunks.

:class:`HammingIndex` picks between them per search from a cost estimate.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "BITS",
    "BUILD_AFTER",
    "FlatIndex",
    "HammingIndex",
    "MultiIndexHash",
    "SearchResult",
    "auto_chunks",
    "pack",
]

BITS: Final = 256
"""Hash length in bits."""
WORDS: Final = BITS // 64
"""``uint64`` words per hash."""
MAX_KEY_BITS: Final = 24
"""Largest chunk (its table has ``2**bits`` offsets, 64 MiB at 24 bits)."""

Codes = npt.NDArray[np.uint64]
"""Packed hashes: C-contiguous ``(N, 4)`` ``uint64``."""


def pack(digests: bytes | Iterable[bytes]) -> Codes:
    """Pack 32-byte hash digests into ``(N, 4)`` ``uint64`` rows.

    Parameters
    ----------
    digests
        Either one buffer holding N concatenated 32-byte digests, or an iterable of
        32-byte digests.

    Returns
    -------
    numpy.ndarray
        ``(N, 4)`` ``uint64`` (a copy owning its memory).

    Raises
    ------
    ValueError
        When the length is not a multiple of 32 bytes, or a digest is not 32 bytes.

    Examples
    --------
    >>> pack(bytes(64)).shape
    (2, 4)
    """
    if isinstance(digests, bytes | bytearray | memoryview):
        buf = bytes(digests)
    else:
        parts = list(digests)
        for i, d in enumerate(parts):
            if len(d) != WORDS * 8:
                raise ValueError(f"digest {i} has {len(d)} bytes, expected 32")
        buf = b"".join(parts)
    if len(buf) % (WORDS * 8):
        raise ValueError(f"buffer of {len(buf)} bytes is not a whole number of 32-byte hashes")
    return np.frombuffer(buf, dtype=np.uint64).reshape(-1, WORDS).copy()


def _as_codes(codes: npt.ArrayLike, what: str) -> Codes:
    a = np.asarray(codes)
    if a.ndim == 1 and a.shape[0] == WORDS:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != WORDS or a.dtype != np.uint64:
        raise ValueError(f"{what} must be (N, 4) uint64 packed hashes, got {a.shape} {a.dtype}")
    return np.ascontiguousarray(a)


def _check_radius(radius: int) -> int:
    r = int(radius)
    if not 0 <= r <= BITS:
        raise ValueError(f"radius must be between 0 and {BITS}, got {radius}")
    return r


@dataclass(frozen=True)
class SearchResult:
    """All (query, row) pairs within the radius, sorted by query, distance, row."""

    query: npt.NDArray[np.intp]
    """Index of the query in the batch."""
    row: npt.NDArray[np.intp]
    """Index of the matching row in the indexed codes."""
    distance: npt.NDArray[np.int16]
    """Hamming distance (0-256)."""

    def __len__(self) -> int:
        return int(self.query.shape[0])


def _result(
    query: npt.NDArray[np.intp], row: npt.NDArray[np.intp], dist: npt.NDArray[np.int16]
) -> SearchResult:
    order = np.lexsort((row, dist, query))
    return SearchResult(query=query[order], row=row[order], distance=dist[order])


def _empty() -> SearchResult:
    return SearchResult(
        query=np.empty(0, np.intp), row=np.empty(0, np.intp), distance=np.empty(0, np.int16)
    )


def _pair_distances(
    codes: Codes, queries: Codes, qid: npt.NDArray[np.intp], rid: npt.NDArray[np.intp]
) -> npt.NDArray[np.int16]:
    """Distances of selected (query, row) pairs."""
    # np.take is several times faster than fancy indexing for row gathers.
    x = np.bitwise_xor(np.take(codes, rid, axis=0), np.take(queries, qid, axis=0))
    counts = np.bitwise_count(x)
    # Column sums: much faster than a reduction over an axis of length 4.
    dist: npt.NDArray[np.int16] = counts[:, 0].astype(np.int16)
    for w in range(1, WORDS):
        dist += counts[:, w]
    return dist


class FlatIndex:
    """Exhaustive scan: every row's distance to every query.

    Parameters
    ----------
    codes
        ``(N, 4)`` ``uint64`` packed hashes (see :func:`pack`). Not copied.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> codes = rng.integers(0, 2**64, (1000, 4), dtype=np.uint64)
    >>> hits = FlatIndex(codes).search(codes[[7]], radius=31)
    >>> hits.row.tolist(), hits.distance.tolist()
    ([7], [0])
    """

    block_elements: int = 1 << 20
    """Upper bound on queries x rows handled by one numpy step (memory ~ 40 B each)."""

    def __init__(self, codes: npt.ArrayLike) -> None:
        self.codes: Codes = _as_codes(codes, "codes")

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the index (the codes)."""
        return int(self.codes.nbytes)

    def distances(self, queries: npt.ArrayLike) -> npt.NDArray[np.int16]:
        """Return the full ``(Q, N)`` distance matrix (for small banks and tests).

        Parameters
        ----------
        queries
            ``(Q, 4)`` ``uint64`` packed hashes.

        Returns
        -------
        numpy.ndarray
            ``(Q, N)`` ``int16`` distances.
        """
        q = _as_codes(queries, "queries")
        # Equivalent to: popcount(q[i] ^ codes[j]) summed over the 4 words.
        x = np.bitwise_xor(q[:, None, :], self.codes[None, :, :])
        dist: npt.NDArray[np.int16] = np.bitwise_count(x).sum(axis=2, dtype=np.int16)
        return dist

    def search(self, queries: npt.ArrayLike, *, radius: int) -> SearchResult:
        """Find every row within ``radius`` of each query.

        Parameters
        ----------
        queries
            ``(Q, 4)`` ``uint64`` packed hashes.
        radius
            Largest distance reported (inclusive).

        Returns
        -------
        SearchResult
            The matching pairs.
        """
        q = _as_codes(queries, "queries")
        r = _check_radius(radius)
        n, nq = len(self), q.shape[0]
        if n == 0 or nq == 0:
            return _empty()
        q_block = max(1, min(nq, self.block_elements // 4096))
        r_block = max(4096, self.block_elements // q_block)
        qs: list[npt.NDArray[np.intp]] = []
        rs: list[npt.NDArray[np.intp]] = []
        ds: list[npt.NDArray[np.int16]] = []
        for r0 in range(0, n, r_block):
            # Word-major copy of the block: four contiguous columns scan much faster
            # than 32-byte rows with a reduction over an axis of length 4.
            cols = np.ascontiguousarray(self.codes[r0 : r0 + r_block].T)
            for q0 in range(0, nq, q_block):
                qb = q[q0 : q0 + q_block]
                # Equivalent to: popcount(qb[i] ^ codes[j]).sum() for every (i, j).
                d = np.bitwise_count(cols[0][None, :] ^ qb[:, 0, None]).astype(np.int16)
                for w in range(1, WORDS):
                    d += np.bitwise_count(cols[w][None, :] ^ qb[:, w, None])
                qi, ri = np.nonzero(d <= r)
                if qi.size:
                    qs.append(qi + q0)
                    rs.append(ri + r0)
                    ds.append(d[qi, ri])
        if not qs:
            return _empty()
        return _result(
            np.concatenate(qs).astype(np.intp),
            np.concatenate(rs).astype(np.intp),
            np.concatenate(ds),
        )


def _spans(chunks: int) -> tuple[tuple[int, int], ...]:
    """Cut 256 bits into ``chunks`` contiguous (start, length) spans, longest first."""
    base, extra = divmod(BITS, chunks)
    spans = []
    start = 0
    for c in range(chunks):
        length = base + (1 if c < extra else 0)
        spans.append((start, length))
        start += length
    return tuple(spans)


def _chunk_keys(codes: Codes, start: int, length: int) -> npt.NDArray[np.uint32]:
    """Chunk value of every row: bits ``start .. start+length`` (bit ``64*w + b`` is bit b
    of word w)."""
    w, off = divmod(start, 64)
    col = codes[:, w]
    # In place where possible: at 10 M rows each temporary is 80 MB.
    key = col >> np.uint64(off)
    if off + length <= 64:
        key &= np.uint64((1 << length) - 1)
    else:
        low = 64 - off
        high = codes[:, w + 1] & np.uint64((1 << (length - low)) - 1)
        high <<= np.uint64(low)
        key |= high
        del high
    return key.astype(np.uint32)


@functools.lru_cache(maxsize=64)
def _flip_masks(length: int, flips: int) -> npt.NDArray[np.intp]:
    """All ``length``-bit masks with at most ``flips`` bits set (0 first)."""
    masks = [0]
    for k in range(1, min(flips, length) + 1):
        for combo in itertools.combinations(range(length), k):
            masks.append(sum(1 << b for b in combo))
    out = np.array(masks, dtype=np.intp)  # intp: np.take is fastest with native indices
    out.setflags(write=False)
    return out


def _probe_count(chunks: int, radius: int) -> int:
    flips = radius // chunks
    return sum(
        sum(math.comb(length, k) for k in range(min(flips, length) + 1))
        for _, length in _spans(chunks)
    )


def auto_chunks(n: int) -> int:
    """Number of chunks for a bank of ``n`` hashes: chunk bits close to ``log2(n)``.

    Buckets then hold about one row each, so candidates stay few, while the tables stay
    at most 64 MiB each. With radius 31 the choice is between 16 chunks of 16 bits
    (1 flip, 272 probes per query) and 11-12 chunks of 21-24 bits (2 flips, ~3,000
    probes but ~N/2**22 rows each). Measured at 1 M random hashes, radius 31 (one core's
    CPU time): 16 chunks 3,900 queries/s (95 MB), 12 chunks 12,400/s (204 MB), 11 chunks
    13,700/s (520 MB); so 12 chunks from 400,000 hashes and 11 above 6 M.

    Parameters
    ----------
    n
        Number of hashes.

    Returns
    -------
    int
        11, 12 or 16.
    """
    if n > 6_000_000:
        return 11
    if n > 400_000:
        return 12
    return 16


class MultiIndexHash:
    """Multi-index hashing: exact radius search with ``m`` chunk tables.

    Parameters
    ----------
    codes
        ``(N, 4)`` ``uint64`` packed hashes. Not copied.
    chunks
        Number of chunks ``m`` (11-256); chunks longer than 24 bits are refused.
        Default: :func:`auto_chunks`.

    Notes
    -----
    Memory: ``4 * m * N`` bytes of row numbers plus ``4 * m * 2**(256/m)`` bytes of
    offsets (1.1 GB for 10 M hashes at ``m = 11``), on top of the codes.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> codes = rng.integers(0, 2**64, (5000, 4), dtype=np.uint64)
    >>> query = codes[[42]].copy()
    >>> query[0, 0] ^= np.uint64(0b111)  # 3 bits off
    >>> hits = MultiIndexHash(codes).search(query, radius=31)
    >>> hits.row.tolist(), hits.distance.tolist()
    ([42], [3])
    """

    batch_probes: int = 1 << 21
    """Upper bound on probes handled by one numpy step."""

    def __init__(self, codes: npt.ArrayLike, *, chunks: int | None = None) -> None:
        self.codes: Codes = _as_codes(codes, "codes")
        n = int(self.codes.shape[0])
        if n >= 2**32 - 1:
            raise ValueError("at most 2**32 - 2 hashes per index")
        m = auto_chunks(n) if chunks is None else int(chunks)
        if not 1 <= m <= BITS or math.ceil(BITS / m) > MAX_KEY_BITS:
            raise ValueError(f"chunks must give chunks of at most {MAX_KEY_BITS} bits, got {m}")
        self.chunks = m
        self.spans = _spans(m)
        self._orders: list[npt.NDArray[np.uint32]] = []
        self._offsets: list[npt.NDArray[np.uint32]] = []
        for start, length in self.spans:
            keys = _chunk_keys(self.codes, start, length)
            counts = np.bincount(keys, minlength=1 << length)
            offsets = np.zeros((1 << length) + 1, dtype=np.uint32)
            np.cumsum(counts, out=offsets[1:])
            self._orders.append(np.argsort(keys, kind="stable").astype(np.uint32))
            self._offsets.append(offsets)

    @classmethod
    def from_tables(
        cls,
        codes: npt.ArrayLike,
        tables: list[tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]],
    ) -> MultiIndexHash:
        """Wrap tables built earlier (e.g. memory-mapped from an index file).

        Parameters
        ----------
        codes
            ``(N, 4)`` ``uint64`` packed hashes the tables were built over.
        tables
            ``(order, offsets)`` per chunk, as returned by :meth:`tables`.

        Returns
        -------
        MultiIndexHash
            An index that searches without building anything.

        Raises
        ------
        ValueError
            When the tables do not fit the codes.
        """
        self = cls.__new__(cls)
        self.codes = _as_codes(codes, "codes")
        n = int(self.codes.shape[0])
        self.chunks = len(tables)
        self.spans = _spans(self.chunks)
        for (_, length), (order, offsets) in zip(self.spans, tables, strict=True):
            if order.shape != (n,) or offsets.shape != ((1 << length) + 1,):
                raise ValueError("multi-index tables do not match the codes")
        self._orders = [t[0] for t in tables]
        self._offsets = [t[1] for t in tables]
        return self

    def tables(self) -> list[tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]]:
        """Return ``(order, offsets)`` per chunk (what :meth:`from_tables` takes)."""
        return list(zip(self._orders, self._offsets, strict=True))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the tables and the codes."""
        tables = sum(o.nbytes for o in self._orders) + sum(o.nbytes for o in self._offsets)
        return int(tables + self.codes.nbytes)

    def probes_per_query(self, radius: int) -> int:
        """Table probes one query costs at ``radius``."""
        return _probe_count(self.chunks, _check_radius(radius))

    def relative_cost(self, radius: int) -> float:
        """Estimated cost of one query, in units of one row of a flat scan.

        Fitted on this code: a probe costs about 2 scanned rows, a candidate about 5;
        random hashes fill each bucket with ``N / 2**bits`` rows.

        Parameters
        ----------
        radius
            Search radius.

        Returns
        -------
        float
            Comparable with ``len(self)``, the cost of a scan.
        """
        flips = _check_radius(radius) // self.chunks
        n = len(self)
        return float(
            sum(
                _flip_masks(length, flips).size * (2.0 + 5.0 * n / 2**length)
                for _, length in self.spans
            )
        )

    def search(self, queries: npt.ArrayLike, *, radius: int) -> SearchResult:
        """Find every row within ``radius`` of each query (exact).

        Parameters
        ----------
        queries
            ``(Q, 4)`` ``uint64`` packed hashes.
        radius
            Largest distance reported (inclusive).

        Returns
        -------
        SearchResult
            The matching pairs.
        """
        q = _as_codes(queries, "queries")
        r = _check_radius(radius)
        if len(self) == 0 or q.shape[0] == 0:
            return _empty()
        flips = r // self.chunks
        per_query = max(_flip_masks(length, flips).size for _, length in self.spans)
        q_block = max(1, self.batch_probes // per_query)
        parts: list[SearchResult] = []
        for q0 in range(0, q.shape[0], q_block):
            part = self._search_block(q[q0 : q0 + q_block], r, flips)
            if len(part):
                parts.append(
                    SearchResult(query=part.query + q0, row=part.row, distance=part.distance)
                )
        if not parts:
            return _empty()
        return _result(
            np.concatenate([p.query for p in parts]),
            np.concatenate([p.row for p in parts]),
            np.concatenate([p.distance for p in parts]),
        )

    def _search_block(self, q: Codes, radius: int, flips: int) -> SearchResult:
        qs: list[npt.NDArray[np.intp]] = []
        rs: list[npt.NDArray[np.intp]] = []
        ds: list[npt.NDArray[np.int16]] = []
        for (start, length), order, offsets in zip(
            self.spans, self._orders, self._offsets, strict=True
        ):
            masks = _flip_masks(length, flips)
            keys = _chunk_keys(q, start, length).astype(np.intp)
            probes = (keys[:, None] ^ masks[None, :]).ravel()
            lo = np.take(offsets, probes)
            counts = (np.take(offsets, probes + 1) - lo).astype(np.intp)
            hit = np.flatnonzero(counts)
            if hit.size == 0:
                continue
            lo_hit = lo[hit].astype(np.intp)
            cnt_hit = counts[hit]
            total = int(cnt_hit.sum())
            # Expand the buckets [lo, lo + count) into one flat array of table positions.
            ends = np.cumsum(cnt_hit)
            pos = np.arange(total, dtype=np.intp) + np.repeat(lo_hit - (ends - cnt_hit), cnt_hit)
            rid = np.take(order, pos).astype(np.intp)
            qid = np.repeat(hit // masks.size, cnt_hit)
            dist = _pair_distances(self.codes, q, qid, rid)
            keep = dist <= radius
            if keep.any():
                qs.append(qid[keep])
                rs.append(rid[keep])
                ds.append(dist[keep])
        if not qs:
            return _empty()
        qid = np.concatenate(qs)
        rid = np.concatenate(rs)
        dist = np.concatenate(ds)
        # A row found through several chunks is reported once.
        _, first = np.unique(qid * len(self) + rid, return_index=True)
        return SearchResult(query=qid[first], row=rid[first], distance=dist[first])


BUILD_AFTER: Final = 512
"""Query hashes a large index answers by scanning before it builds its tables.

Building the multi-index tables costs about as much as 500 scans (2.5 µs against 5 ns
per row), so scanning first and building once that much scanning has been done never
costs more than twice the better choice made in hindsight (the ski-rental bound). One
picture (8 hashes) checked against a 10 M bank is thus a 0.5 s scan, not a 25 s build.
"""


class HammingIndex:
    """Exact radius search that uses multi-index hashing when it is cheaper than a scan.

    Parameters
    ----------
    codes
        ``(N, 4)`` ``uint64`` packed hashes. Not copied.
    mih_min_rows
        Banks smaller than this are always scanned (the scan is fast there and the
        tables would cost memory for nothing).
    chunks
        Passed to :class:`MultiIndexHash`.
    build_after
        Build the tables once this many query hashes have been scanned (default
        :data:`BUILD_AFTER`; 0 builds them at once).
    mih
        Tables built earlier over the same codes (e.g. from the bank's index file).
    """

    def __init__(
        self,
        codes: npt.ArrayLike,
        *,
        mih_min_rows: int = 200_000,
        chunks: int | None = None,
        build_after: int = BUILD_AFTER,
        mih: MultiIndexHash | None = None,
    ) -> None:
        self.flat = FlatIndex(codes)
        self.codes = self.flat.codes
        self.mih: MultiIndexHash | None = mih
        self._mih_min_rows = mih_min_rows
        self._chunks = chunks
        self._build_after = build_after
        self._scanned = 0
        if build_after <= 0:
            self.build()

    def __len__(self) -> int:
        return len(self.flat)

    @property
    def nbytes(self) -> int:
        """Memory held by the index."""
        return self.mih.nbytes if self.mih is not None else self.flat.nbytes

    def build(self) -> MultiIndexHash | None:
        """Build the multi-index tables now, when the bank is large enough for them.

        Returns
        -------
        MultiIndexHash | None
            The tables, or None for a bank below ``mih_min_rows``.
        """
        if self.mih is None and len(self) >= self._mih_min_rows:
            self.mih = MultiIndexHash(self.codes, chunks=self._chunks)
        return self.mih

    def uses_mih(self, radius: int) -> bool:
        """Whether :meth:`search` at ``radius`` goes through the multi-index tables.

        Parameters
        ----------
        radius
            Search radius.

        Returns
        -------
        bool
            True when the tables are built and :meth:`MultiIndexHash.relative_cost`
            (with a 1.5 safety factor) is below the cost of a scan.
        """
        if self.mih is None:
            return False
        return 1.5 * self.mih.relative_cost(radius) < len(self)

    def search(self, queries: npt.ArrayLike, *, radius: int) -> SearchResult:
        """Find every row within ``radius`` of each query (exact, whichever path).

        Parameters
        ----------
        queries
            ``(Q, 4)`` ``uint64`` packed hashes.
        radius
            Largest distance reported (inclusive).

        Returns
        -------
        SearchResult
            The matching pairs.
        """
        q = _as_codes(queries, "queries")
        if self.mih is None and self._scanned + q.shape[0] >= self._build_after:
            self.build()
        if self.mih is not None and self.uses_mih(radius):
            return self.mih.search(q, radius=radius)
        if self.mih is None:
            self._scanned += q.shape[0]
        return self.flat.search(q, radius=radius)
