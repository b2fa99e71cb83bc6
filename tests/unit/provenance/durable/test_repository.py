"""Manifest repository: storing, lookups by watermark and fingerprint, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.durable.repository import (
    FINGERPRINT_MAX_DISTANCE,
    Binding,
    Repository,
    RepositoryError,
)
from provenance.durable.softbinding import FINGERPRINT_ALG, WATERMARK_ALG

ROOT = Path(__file__).resolve().parents[4]


def _flip(digest: bytes, bits: int) -> bytes:
    """Flip the first ``bits`` bits of a 32-byte digest."""
    v = int.from_bytes(digest, "big") ^ (((1 << bits) - 1) << (256 - bits))
    return v.to_bytes(32, "big")


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    r = Repository.open(tmp_path / "repo.db", create=True)
    yield r
    r.close()


def test_put_get_and_lookup_by_watermark(repo: Repository) -> None:
    ident = bytes.fromhex("0123456789abcdef")
    stored = repo.put(
        b"STORE",
        manifest_id="0123456789ABCDEF",
        bindings=[Binding(WATERMARK_ALG, ident)],
        label="urn:c2pa:abc",
        media_type="image/jpeg",
        width=640,
        height=480,
    )
    assert stored.manifest_id == "0123456789abcdef"
    assert repo.get("0123456789abcdef") == b"STORE"
    assert repo.get("urn:c2pa:abc") == b"STORE"
    assert repo.get("ffffffffffffffff") is None
    assert repo.get("urn:c2pa:nothing") is None
    [m] = repo.by_binding(WATERMARK_ALG, ident)
    assert (m.manifest_id, m.similarity, m.distance) == ("0123456789abcdef", 100, None)
    assert repo.by_binding(WATERMARK_ALG, bytes(8)) == []
    info = repo.info("0123456789abcdef")
    assert info is not None and info.width == 640 and info.size == 5
    assert info.bindings == (Binding(WATERMARK_ALG, ident),)
    assert len(repo) == 1 and repo.ids() == ["0123456789abcdef"]
    assert repo.journal_mode == "wal"


def test_fingerprint_lookup_by_distance(repo: Repository) -> None:
    rng = np.random.default_rng(3)
    base = [rng.bytes(32) for _ in range(50)]
    for i, digest in enumerate(base):
        repo.put(
            b"S%d" % i,
            manifest_id=f"{i + 1:016x}",
            bindings=[
                Binding(WATERMARK_ALG, (i + 1).to_bytes(8, "big")),
                Binding(FINGERPRINT_ALG, digest),
            ],
        )
    near = _flip(base[7], 10)
    [m] = repo.by_binding(FINGERPRINT_ALG, near)
    assert (m.manifest_id, m.distance, m.similarity) == (
        f"{8:016x}",
        10,
        round(100 * (1 - 10 / 256)),
    )
    assert repo.by_binding(FINGERPRINT_ALG, _flip(base[7], FINGERPRINT_MAX_DISTANCE + 1)) == []
    # Variants: the best distance over all query digests counts.
    got = repo.by_fingerprints([rng.bytes(32), _flip(base[3], 2)])
    assert [g.manifest_id for g in got] == [f"{4:016x}"] and got[0].distance == 2
    # A new entry is seen by the cached index.
    repo.put(b"new", manifest_id="00000000000000ff", bindings=[Binding(FINGERPRINT_ALG, near)])
    assert {m.manifest_id for m in repo.by_binding(FINGERPRINT_ALG, near)} == {
        f"{8:016x}",
        "00000000000000ff",
    }
    assert (
        repo.by_binding(FINGERPRINT_ALG, near, max_results=1)[0].manifest_id == "00000000000000ff"
    )


def test_rejects_bad_input(repo: Repository) -> None:
    good = [Binding(WATERMARK_ALG, bytes(range(8)))]
    with pytest.raises(RepositoryError) as e:
        repo.put(b"x", manifest_id="xyz", bindings=good)
    assert e.value.code == "bad_manifest_id"
    with pytest.raises(RepositoryError) as e:
        repo.put(b"", manifest_id="00" * 8, bindings=good)
    assert e.value.code == "empty_store"
    with pytest.raises(RepositoryError) as e:
        repo.put(b"x", manifest_id="00" * 8, bindings=[Binding(WATERMARK_ALG, b"123")])
    assert e.value.code == "bad_binding"
    with pytest.raises(RepositoryError) as e:
        repo.by_binding("com.example.other", b"12345678")
    assert e.value.code == "unsupported_alg"
    repo.put(b"x", manifest_id="00" * 8, bindings=good)
    with pytest.raises(RepositoryError) as e:
        repo.put(b"y", manifest_id="00" * 8, bindings=good)
    assert e.value.code == "duplicate_manifest_id"
    assert repo.get("00" * 8) == b"x"  # the failed put changed nothing


def test_remove(repo: Repository) -> None:
    ident = bytes(range(8))
    repo.put(b"x", manifest_id=ident.hex(), bindings=[Binding(WATERMARK_ALG, ident)])
    assert repo.remove(ident.hex()) is True
    assert repo.remove(ident.hex()) is False
    assert repo.by_binding(WATERMARK_ALG, ident) == [] and len(repo) == 0


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError) as e:
        Repository.open(tmp_path / "missing.db")
    assert e.value.code == "not_found"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(RepositoryError) as e:
        Repository.open(junk)
    assert e.value.code == "not_a_repository"
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(RepositoryError) as e:
        Repository.open(other)
    assert e.value.code == "not_a_repository"
    with pytest.raises(RepositoryError) as e:
        Repository.open(tmp_path)
    assert e.value.code == "not_a_repository"
    newer = tmp_path / "newer.db"
    Repository.open(newer, create=True).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    with pytest.raises(RepositoryError, match="manifest repository format version 99") as e:
        Repository.open(newer)
    assert e.value.code == "unsupported_version"


def test_reader_sees_writes_of_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Repository.open(path, create=True) as writer, Repository.open(path) as reader:
        assert reader.by_binding(FINGERPRINT_ALG, bytes(32)) == []
        writer.put(b"s", manifest_id="11" * 8, bindings=[Binding(FINGERPRINT_ALG, bytes(32))])
        assert [m.manifest_id for m in reader.by_binding(FINGERPRINT_ALG, bytes(32))] == ["11" * 8]


_WRITER = textwrap.dedent(
    """
    import sys
    from provenance.durable.repository import Binding, Repository
    from provenance.durable.softbinding import WATERMARK_ALG, FINGERPRINT_ALG
    repo = Repository.open(sys.argv[1], create=True)
    i = 0
    while True:
        i += 1
        ident = i.to_bytes(8, "big")
        repo.put(b"store-%d" % i * 200, manifest_id=ident.hex(),
                 bindings=[Binding(WATERMARK_ALG, ident),
                           Binding(FINGERPRINT_ALG, ident * 4)])
        print(ident.hex(), flush=True)
    """
)


def test_kill_9_loses_nothing_reported_stored(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
    )
    assert proc.stdout is not None
    reported = []
    deadline = time.monotonic() + 60
    while len(reported) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        reported.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(reported) >= 40
    with Repository.open(path) as repo:
        ids = set(repo.ids())
        assert set(reported) <= ids
        for mid in reported:
            assert repo.get(mid) is not None
            assert repo.by_binding(WATERMARK_ALG, bytes.fromhex(mid))[0].manifest_id == mid
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@settings(max_examples=40, deadline=None)
@given(
    codes=st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=30),
    query=st.binary(min_size=32, max_size=32),
    flips=st.integers(0, 60),
    radius=st.integers(0, 256),
)
def test_fingerprint_search_equals_brute_force(
    tmp_path_factory: pytest.TempPathFactory,
    codes: list[bytes],
    query: bytes,
    flips: int,
    radius: int,
) -> None:
    codes = [*codes, _flip(query, flips)]
    path = tmp_path_factory.mktemp("prop") / "r.db"
    with Repository.open(path, create=True) as repo:
        for i, code in enumerate(codes):
            repo.put(b"s", manifest_id=f"{i + 1:016x}", bindings=[Binding(FINGERPRINT_ALG, code)])
        got = repo.by_binding(FINGERPRINT_ALG, query, max_results=100, max_distance=radius)
    q = int.from_bytes(query, "big")
    want = sorted(
        (bin(int.from_bytes(c, "big") ^ q).count("1"), i)
        for i, c in enumerate(codes)
        if bin(int.from_bytes(c, "big") ^ q).count("1") <= radius
    )
    assert [(m.distance, int(m.manifest_id, 16) - 1) for m in got] == want


def test_bind_move_receipts_and_remove(tmp_path: Path) -> None:
    a, b = bytes.fromhex("00000000000000aa"), bytes.fromhex("00000000000000bb")
    fp = bytes(range(32))
    with Repository.open(tmp_path / "r.db", create=True) as repo:
        repo.put(b"A", manifest_id=a.hex(), bindings=[Binding(WATERMARK_ALG, a)], label="urn:a")
        repo.put(b"B", manifest_id=b.hex(), bindings=[], label="urn:b")
        assert repo.bind(Binding(FINGERPRINT_ALG, fp), "urn:a") is True
        assert repo.bind(Binding(FINGERPRINT_ALG, fp), a.hex()) is True  # idempotent
        assert repo.bind(Binding(WATERMARK_ALG, a), "ffffffffffffffff") is False
        assert repo.bind(Binding(WATERMARK_ALG, b), b.hex(), replace=True) is False
        assert repo.bind(Binding(FINGERPRINT_ALG, fp), b.hex(), replace=True) is True
        assert [m.manifest_id for m in repo.by_binding(FINGERPRINT_ALG, fp)] == [b.hex()]
        with pytest.raises(RepositoryError):
            repo.bind(Binding(WATERMARK_ALG, b"short"), b.hex())
        assert repo.receipt(a.hex()) is None
        repo.put_receipt("urn:a", '{"r": 1}', public_key=b"k" * 32, issued_at="t")
        repo.put_receipt(a.hex(), '{"r": 2}', public_key=b"k" * 32, issued_at="t")
        assert repo.receipt(a.hex()) == ('{"r": 2}', b"k" * 32)
        with pytest.raises(RepositoryError) as e:
            repo.put_receipt("ffffffffffffffff", "{}", public_key=b"", issued_at="t")
        assert e.value.code == "not_found"
        assert repo.remove("urn:a") is True
        assert repo.receipt(a.hex()) is None and repo.by_binding(WATERMARK_ALG, a) == []
        assert repo.remove("urn:nothing") is False
        repo.ping()


def test_receipts_in_a_file_written_before_receipts(tmp_path: Path) -> None:
    mid = "00000000000000cc"
    with Repository.open(tmp_path / "old.db", create=True) as repo:
        repo.put(b"C", manifest_id=mid, bindings=[])
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("DROP TABLE receipts")
    with Repository.open(tmp_path / "old.db") as repo:
        assert repo.receipt(mid) is None
        assert repo.remove(mid) is True
        repo.put(b"C", manifest_id=mid, bindings=[])
        repo.put_receipt(mid, "{}", public_key=b"k", issued_at="t")
        assert repo.receipt(mid) == ("{}", b"k")
