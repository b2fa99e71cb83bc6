"""Exact Hamming search: flat scan, multi-index hashing, and the automatic choice."""

from __future__ import annotations

import numpy as np
import pytest

from provenance.matching.hamming import (
    FlatIndex,
    HammingIndex,
    MultiIndexHash,
    SearchResult,
    auto_chunks,
    pack,
)


def _popcount_reference(a: np.ndarray, b: np.ndarray) -> int:
    return sum(int(x ^ y).bit_count() for x, y in zip(a.tolist(), b.tolist(), strict=True))


def _flip(row: np.ndarray, bits: np.ndarray) -> np.ndarray:
    out = row.copy()
    for b in bits.tolist():
        out[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    return out


def _pairs(result: SearchResult) -> list[tuple[int, int, int]]:
    return list(
        zip(result.query.tolist(), result.row.tolist(), result.distance.tolist(), strict=True)
    )


@pytest.fixture
def bank() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """5,000 random rows; queries: 40 near-duplicates (0-52 bits off) and 10 random."""
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 2**64, (5000, 4), dtype=np.uint64)
    base = rng.choice(len(codes), 40, replace=False)
    dists = np.linspace(0, 52, 40).astype(int)
    near = np.stack(
        [
            _flip(codes[i], rng.choice(256, d, replace=False))
            for i, d in zip(base, dists, strict=True)
        ]
    )
    queries = np.concatenate([near, rng.integers(0, 2**64, (10, 4), dtype=np.uint64)])
    return codes, queries, base


def test_pack_round_trip_and_errors() -> None:
    digests = [bytes(range(32)), bytes(range(32, 64))]
    packed = pack(digests)
    assert packed.shape == (2, 4) and packed.dtype == np.uint64
    assert packed.tobytes() == b"".join(digests)
    assert np.array_equal(pack(b"".join(digests)), packed)
    assert pack(b"").shape == (0, 4)
    with pytest.raises(ValueError, match="32"):
        pack([bytes(31)])
    with pytest.raises(ValueError, match="32-byte"):
        pack(bytes(33))


def test_flat_distances_match_python_popcount(bank) -> None:
    codes, queries, _ = bank
    d = FlatIndex(codes[:300]).distances(queries[:5])
    for qi in range(5):
        for ri in (0, 17, 299):
            assert d[qi, ri] == _popcount_reference(queries[qi], codes[ri])


def test_flat_radius_is_inclusive(bank) -> None:
    codes, queries, base = bank
    flat = FlatIndex(codes)
    d = int(flat.distances(queries[[20]])[0, base[20]])
    assert base[20] in flat.search(queries[[20]], radius=d).row
    assert base[20] not in flat.search(queries[[20]], radius=d - 1).row


@pytest.mark.parametrize("chunks", [11, 12, 16, 32])
def test_mih_equals_brute_force(bank, chunks: int) -> None:
    codes, queries, _ = bank
    mih = MultiIndexHash(codes, chunks=chunks)  # 11 chunks: 23-24-bit tables (~0.5 GB)
    flat = FlatIndex(codes)
    for radius in (0, 10, 31, 52):
        expected = _pairs(flat.search(queries, radius=radius))
        assert _pairs(mih.search(queries, radius=radius)) == expected
        if radius == 31:
            assert len(expected) >= 24  # the planted rows 0-31 bits away


def test_results_are_sorted_and_deduplicated() -> None:
    rng = np.random.default_rng(3)
    row = rng.integers(0, 2**64, (1, 4), dtype=np.uint64)
    codes = np.concatenate([row, row, rng.integers(0, 2**64, (100, 4), dtype=np.uint64), row])
    q = np.stack([_flip(row[0], np.array([1, 2])), row[0]])
    res = MultiIndexHash(codes, chunks=16).search(q, radius=31)
    assert _pairs(res) == [(0, 0, 2), (0, 1, 2), (0, 102, 2), (1, 0, 0), (1, 1, 0), (1, 102, 0)]


def test_small_batches_split_queries() -> None:
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 2**64, (2000, 4), dtype=np.uint64)
    mih = MultiIndexHash(codes, chunks=16)
    mih.batch_probes = 50  # force one query per block
    flat = FlatIndex(codes)
    flat.block_elements = 1000
    assert _pairs(mih.search(codes[:30], radius=31)) == _pairs(flat.search(codes[:30], radius=31))


def test_empty_index_and_empty_queries() -> None:
    empty = np.empty((0, 4), np.uint64)
    q = np.zeros((2, 4), np.uint64)
    for index in (FlatIndex(empty), MultiIndexHash(empty, chunks=16), HammingIndex(empty)):
        assert len(index.search(q, radius=31)) == 0
        assert len(index.search(empty, radius=31)) == 0


def test_bad_arguments() -> None:
    codes = np.zeros((3, 4), np.uint64)
    with pytest.raises(ValueError, match="chunks"):
        MultiIndexHash(codes, chunks=8)  # 32-bit chunks: tables too large
    with pytest.raises(ValueError, match="radius"):
        FlatIndex(codes).search(codes, radius=300)
    with pytest.raises(ValueError, match="uint64"):
        FlatIndex(codes.astype(np.int64))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        FlatIndex(np.zeros((3, 5), np.uint64))


def test_hamming_index_chooses_and_stays_exact(bank) -> None:
    codes, queries, _ = bank
    small = HammingIndex(codes)
    assert small.mih is None and not small.uses_mih(31)
    forced = HammingIndex(codes, mih_min_rows=0, chunks=16, build_after=0)
    assert forced.mih is not None
    assert forced.nbytes > codes.nbytes
    for radius in (31, 52):
        assert _pairs(forced.search(queries, radius=radius)) == _pairs(
            small.search(queries, radius=radius)
        )


def test_auto_chunks_keeps_tables_small() -> None:
    assert auto_chunks(1000) == 16
    assert auto_chunks(1_000_000) == 12
    assert auto_chunks(3_000_000) == 12
    assert auto_chunks(10_000_000) == 11


def test_large_index_scans_first_then_builds(bank) -> None:
    codes, queries, _ = bank
    index = HammingIndex(codes, mih_min_rows=1000, chunks=16, build_after=60)
    expected = _pairs(FlatIndex(codes).search(queries, radius=31))
    assert _pairs(index.search(queries, radius=31)) == expected  # 50 hashes: scanned
    assert index.mih is None
    assert _pairs(index.search(queries, radius=31)) == expected  # 100 > 60: built
    assert index.mih is not None and index.uses_mih(31)
    assert HammingIndex(codes[:10], mih_min_rows=1000, build_after=0).build() is None
