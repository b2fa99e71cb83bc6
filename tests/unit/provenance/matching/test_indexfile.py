"""The persisted bank index: written beside the bank, reused, kept exact across writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import provenance.matching.bank as bank_module
from provenance.matching.bank import Bank
from provenance.matching.hamming import FlatIndex, MultiIndexHash
from provenance.matching.indexfile import index_path, load_index, save_index
from provenance.matching.pdq import PdqHash

RNG_SEED = 16


def _hash(digest: bytes) -> PdqHash:
    return PdqHash(digest=digest, quality=100)


def _random_codes(n: int, seed: int = RNG_SEED) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**64, (n, 4), dtype=np.uint64)


def _flip(code: np.ndarray, bits: list[int]) -> bytes:
    c = code.copy()
    for b in bits:
        c[b // 64] ^= np.uint64(1) << np.uint64(b % 64)
    return c.tobytes()


def _fill(bank: Bank, codes: np.ndarray, prefix: str = "e") -> None:
    for i, c in enumerate(codes):
        bank.add_hash(_hash(c.tobytes()), entry_id=f"{prefix}{i}")


@pytest.fixture
def small_mih(monkeypatch: pytest.MonkeyPatch) -> None:
    """Multi-index tables from 50 rows, so small banks exercise the persisted tables."""
    monkeypatch.setattr(bank_module, "MIH_MIN_ROWS", 50)


def test_index_file_is_written_beside_the_bank_and_reused(tmp_path: Path, small_mih) -> None:
    path = tmp_path / "b.db"
    codes = _random_codes(300)
    with Bank.open(path, create=True) as bank:
        _fill(bank, codes)
        assert not index_path(path).exists()
        bank.refresh_index()
    idx = index_path(path)
    assert idx.exists()
    stamp = idx.stat().st_mtime_ns, idx.stat().st_ino
    with Bank.open(path) as bank:
        found = bank.match_hashes([_hash(_flip(codes[7], [1, 70, 200]))])
        assert [(m.entry_id, m.distance) for m in found] == [("e7", 3)]
        snap = bank.index()
        assert snap.file_rows == 300 and snap.delta_rows == 0
        assert snap.base.mih is not None and snap.base.mih.chunks == 16
    assert (idx.stat().st_mtime_ns, idx.stat().st_ino) == stamp  # not rebuilt


def test_rows_added_later_are_found_without_rewriting_the_file(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    codes = _random_codes(40)
    with Bank.open(path, create=True) as bank:
        _fill(bank, codes[:30])
        bank.refresh_index()
        stamp = index_path(path).stat().st_ino
        _fill(bank, codes[30:], prefix="late")
        assert [m.entry_id for m in bank.match_hashes([_hash(codes[35].tobytes())])] == ["late5"]
        assert bank.index().delta_rows == 10
    with Bank.open(path) as other:  # another process sees them too
        assert [m.entry_id for m in other.match_hashes([_hash(codes[39].tobytes())])] == ["late9"]
    assert index_path(path).stat().st_ino == stamp


def test_many_rows_added_later_rewrite_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bank_module, "DELTA_MAX", 5)
    path = tmp_path / "b.db"
    codes = _random_codes(300)
    with Bank.open(path, create=True) as bank:
        _fill(bank, codes[:200])
        bank.refresh_index()
        _fill(bank, codes[200:], prefix="late")
        bank.refresh_index()
        snap = bank.index()
        assert snap.file_rows == 300 and snap.delta_rows == 0


def test_removed_rows_never_match_and_row_ids_are_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    codes = _random_codes(20)
    with Bank.open(path, create=True) as bank:
        _fill(bank, codes[:10])
        bank.refresh_index()
        assert bank.remove(["e9"]) == 1  # the last row: SQLite would reuse its row id
        assert bank.match_hashes([_hash(codes[9].tobytes())]) == ()
        bank.add_hash(_hash(codes[15].tobytes()), entry_id="new")
        assert [m.entry_id for m in bank.match_hashes([_hash(codes[15].tobytes())])] == ["new"]
        assert bank.match_hashes([_hash(codes[9].tobytes())]) == ()


def test_mostly_removed_bank_rebuilds_its_file(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Bank.open(path, create=True) as bank:
        _fill(bank, _random_codes(50))
        bank.refresh_index()
        bank.remove([f"e{i}" for i in range(30)])
        bank.refresh_index()
        assert bank.index().file_rows == 20


def test_index_file_of_another_bank_or_damaged_is_rebuilt(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    with Bank.open(a, create=True) as bank:
        _fill(bank, _random_codes(10, seed=1))
        bank.refresh_index()
    codes_b = _random_codes(10, seed=2)
    with Bank.open(b, create=True) as bank:
        _fill(bank, codes_b)
    shutil.copy(index_path(a), index_path(b))
    with Bank.open(b) as bank:
        assert [m.entry_id for m in bank.match_hashes([_hash(codes_b[3].tobytes())])] == ["e3"]
    with Bank.open(b) as bank:
        assert load_index(index_path(b), bank_id=bank.bank_id) is not None
    for damage in (b"garbage", index_path(b).read_bytes()[:5000]):
        index_path(b).write_bytes(damage)
        with Bank.open(b) as bank:
            assert [m.entry_id for m in bank.match_hashes([_hash(codes_b[4].tobytes())])] == ["e4"]


def test_copied_bank_that_diverged_does_not_use_the_old_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    codes = _random_codes(30)
    with Bank.open(a, create=True) as bank:
        _fill(bank, codes[:10])
        bank.refresh_index()
    shutil.copy(a, b)
    shutil.copy(index_path(a), index_path(b))
    with Bank.open(b) as bank:  # same bank id, same rows: the copy's file is fine
        bank.remove([f"e{i}" for i in range(10)])
    with Bank.open(b) as bank:
        _fill(bank, codes[10:20], prefix="x")
        found = bank.match_hashes([_hash(codes[12].tobytes())])
        assert [m.entry_id for m in found] == ["x2"]


def test_read_only_directory_keeps_the_index_in_memory(tmp_path: Path, monkeypatch) -> None:
    codes = _random_codes(10)
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        _fill(bank, codes)

    def read_only(path: Path, **_: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(bank_module, "save_index", read_only)
    with Bank.open(tmp_path / "b.db") as bank:
        assert [m.entry_id for m in bank.match_hashes([_hash(codes[2].tobytes())])] == ["e2"]
    assert not index_path(tmp_path / "b.db").exists()


def test_save_and_load_round_trip_tables(tmp_path: Path) -> None:
    codes = _random_codes(500)
    mih = MultiIndexHash(codes, chunks=16)
    rowids = np.arange(3, 503, dtype=np.int64)
    rowids[100:] += 7  # a gap: row ids stored explicitly
    p = tmp_path / "x.idx"
    save_index(p, bank_id="B", codes=codes, rowids=rowids, mih=mih)
    got = load_index(p, bank_id="B")
    assert got is not None and load_index(p, bank_id="other") is None
    assert np.array_equal(got.codes, codes) and np.array_equal(got.rowids, rowids)
    assert got.mih is not None
    q = codes[[5, 6]]
    assert np.array_equal(got.mih.search(q, radius=40).row, mih.search(q, radius=40).row)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    flips=st.lists(st.lists(st.integers(0, 255), max_size=40, unique=True), min_size=1, max_size=8),
)
def test_persisted_multi_index_equals_brute_force(
    tmp_path_factory: pytest.TempPathFactory, seed: int, flips: list[list[int]]
) -> None:
    """The 8 variants of each query, through the saved tables, find exactly the rows a
    brute-force scan finds within 31, at the same distances."""
    old = bank_module.MIH_MIN_ROWS
    bank_module.MIH_MIN_ROWS = 50
    try:
        rng = np.random.default_rng(seed)
        codes = rng.integers(0, 2**64, (120, 4), dtype=np.uint64)
        path = tmp_path_factory.mktemp("prop") / "b.db"
        with Bank.open(path, create=True) as bank:
            _fill(bank, codes)
            bank.refresh_index()
        groups = [
            [
                _hash(_flip(codes[rng.integers(0, 120)], bits[: rng.integers(0, len(bits) + 1)]))
                for _ in range(8)
            ]
            for bits in flips
        ]
        with Bank.open(path) as bank:
            assert bank.index().base.mih is not None
            got = bank.match_batch(groups, max_distance=31)
        brute = FlatIndex(codes)
        for group, matches in zip(groups, got, strict=True):
            d = brute.distances(np.stack([np.frombuffer(h.digest, np.uint64) for h in group]))
            best = d.min(axis=0)
            expect = {f"e{r}": int(best[r]) for r in np.flatnonzero(best <= 31)}
            assert {m.entry_id: m.distance for m in matches} == expect
    finally:
        bank_module.MIH_MIN_ROWS = old
