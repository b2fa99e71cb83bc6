"""Property: the multi-index search returns exactly what a brute-force scan returns."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from provenance.matching.hamming import FlatIndex, HammingIndex, MultiIndexHash

_codes = arrays(
    np.uint64,
    st.tuples(st.integers(0, 120), st.just(4)),
    # Few distinct words: many equal chunks, crowded buckets, exact duplicates.
    elements=st.sampled_from([0, 1, 2**63, 2**64 - 1, 0x5555555555555555, 0x0F0F0F0F0F0F0F0F])
    | st.integers(0, 2**64 - 1),
)


def _pairs(result) -> list[tuple[int, int, int]]:
    return list(
        zip(result.query.tolist(), result.row.tolist(), result.distance.tolist(), strict=True)
    )


@st.composite
def _bank_and_queries(draw):
    codes = draw(_codes)
    n = codes.shape[0]
    queries = []
    for _ in range(draw(st.integers(1, 6))):
        if n and draw(st.booleans()):
            # A near-duplicate of a bank row: flip up to 60 distinct bits.
            row = codes[draw(st.integers(0, n - 1))].copy()
            flips = draw(st.lists(st.integers(0, 255), max_size=60, unique=True))
            for b in flips:
                row[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
            queries.append(row)
        else:
            queries.append(draw(arrays(np.uint64, 4)))
    return codes, np.stack(queries)


@settings(max_examples=150, deadline=None)
@given(
    _bank_and_queries(),
    st.integers(0, 64),
    st.sampled_from([16, 20, 32, 64]),  # 11-12 chunks (large tables): unit tests
)
def test_multi_index_equals_brute_force(bank_and_queries, radius: int, chunks: int) -> None:
    codes, queries = bank_and_queries
    expected = _pairs(FlatIndex(codes).search(queries, radius=radius))
    assert _pairs(MultiIndexHash(codes, chunks=chunks).search(queries, radius=radius)) == expected
    both = HammingIndex(codes, mih_min_rows=0, chunks=chunks, build_after=0)
    assert _pairs(both.search(queries, radius=radius)) == expected


@settings(max_examples=60, deadline=None)
@given(_bank_and_queries())
def test_flat_search_agrees_with_the_distance_matrix(bank_and_queries) -> None:
    codes, queries = bank_and_queries
    matrix = FlatIndex(codes).distances(queries)
    got = _pairs(FlatIndex(codes).search(queries, radius=31))
    qi, ri = np.nonzero(matrix <= 31)
    expected = sorted(
        zip(qi.tolist(), ri.tolist(), matrix[qi, ri].tolist(), strict=True),
        key=lambda t: (t[0], t[2], t[1]),
    )
    assert got == expected
