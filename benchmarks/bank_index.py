"""Benchmark the bank index through the CLI, side by side with a numpy scan and faiss.

Synthetic banks of random 256-bit hashes (1 M and 10 M by default) go through the real
path: rows are written to a SQLite bank, the index file is built and saved as ``verify
bank import`` does (``Bank.refresh_index``), then ``verify bank match BANK --hashes
Q.txt`` runs in a fresh process on ``--cli-queries`` hashes (half planted near-duplicates
of bank rows at 0-31 random bits, half random). Measured per bank size, each in a fresh
process:

* ``cli``: seconds to the first record (start-up), query hashes per second of wall clock
  and per CPU-second, peak memory (``ru_maxrss``) of the CLI process;
* ``cli_planted_found_exact``: planted rows reported at their exact distance (recall);
* ``pictures_8_variants_*``: pictures (8 rotations/flips each, the planted hash at a random
  position) through ``Bank.match_batch``; their recall;
* ``same_as_brute_force_100_queries``: the (query, row, distance) pairs of the index equal
  a brute-force scan's;
* ``peers``: a flat numpy scan, faiss-cpu ``IndexBinaryFlat`` and ``IndexBinaryMultiHash``
  (16 x 16 bits, nflip 1: HMA's configuration) on the same hashes, one thread each.

Run: ``python benchmarks/bank_index.py [--sizes 1000000 10000000]`` (faiss-cpu from the
``bench`` extra); results go to ``bench-out/bank.json``. Not run by the tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provenance.matching.bank import Bank  # noqa: E402
from provenance.matching.hamming import FlatIndex  # noqa: E402
from provenance.matching.indexfile import index_path  # noqa: E402
from provenance.matching.pdq import PdqHash  # noqa: E402

PLANTED = 1000
RANDOM_QUERIES = 1000
BRUTE_SAMPLE = 200


def _flip(
    codes: np.ndarray, rng: np.random.Generator, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Copy rows and flip a random number (lo..hi) of distinct random bits in each."""
    out = codes.copy()
    bits = np.unpackbits(out.view(np.uint8), axis=1)
    dists = rng.integers(lo, hi + 1, size=len(out))
    for i, d in enumerate(dists):  # benchmark set-up only
        bits[i, rng.choice(256, size=d, replace=False)] ^= 1
    return np.packbits(bits, axis=1).view(np.uint64).reshape(-1, 4).copy(), dists


def _write_bank(path: Path, codes: np.ndarray) -> float:
    t = time.perf_counter()
    with Bank.open(path, create=True, name="bench") as bank:
        buf = codes.tobytes()
        now = "2026-01-01T00:00:00Z"
        rows = (
            (f"e{i}", buf[32 * i : 32 * i + 32], 100, None, None, None, now)
            for i in range(len(codes))
        )
        bank._write(rows)
    return time.perf_counter() - t


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cli(db: Path, hashes: Path) -> dict[str, object]:
    """Run ``verify bank match --hashes`` in a fresh process: start-up, rate, memory."""
    cmd = [sys.executable, "-m", "verify_cli", "bank", "match", str(db), "--hashes", str(hashes)]
    cmd += ["--format", "jsonl", "--max-distance", "31"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    first_s = time.perf_counter() - t
    lines = [first, *proc.stdout]
    proc.wait()
    total_s = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = usage.ru_utime + usage.ru_stime
    records = [json.loads(line) for line in lines if line.strip()]
    return {
        "first_answer_s": round(first_s, 2),
        "total_s": round(total_s, 2),
        "queries": len(records),
        "qps_through_cli": round(len(records) / total_s, 1),
        "qps_after_first_answer": round((len(records) - 1) / max(total_s - first_s, 1e-9), 1),
        "cpu_s": round(cpu_s, 2),
        "qps_per_cpu_s": round(len(records) / cpu_s, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "records": records,
    }


def _peers(codes: np.ndarray, queries: np.ndarray) -> dict[str, object]:
    """Flat numpy scan and faiss-cpu binary indexes on the same hashes and queries."""
    out: dict[str, object] = {}
    q = queries[:200]
    flat = FlatIndex(codes)
    t = time.perf_counter()
    flat.search(q, radius=31)
    out["numpy_flat_qps"] = round(len(q) / (time.perf_counter() - t), 1)
    out["numpy_flat_mb"] = round(codes.nbytes / 2**20, 1)
    try:
        import faiss  # optional peer (extra `bench`)
    except ImportError:
        out["faiss"] = "not installed"
        return out
    faiss.omp_set_num_threads(1)
    xb = codes.view(np.uint8).reshape(-1, 32)
    xq = np.ascontiguousarray(queries.view(np.uint8).reshape(-1, 32))
    for name, make in (
        ("faiss_binary_flat", lambda: faiss.IndexBinaryFlat(256)),
        ("faiss_binary_multihash_16x16", lambda: faiss.IndexBinaryMultiHash(256, 16, 16)),
    ):
        before = _rss_mb()
        t = time.perf_counter()
        index = make()
        if hasattr(index, "nflip"):
            index.nflip = 1  # exact at 31: 16 chunks, one of them within 1 bit (HMA's choice)
        index.add(xb)
        build_s = time.perf_counter() - t
        sub = xq[:200] if "flat" in name else xq
        t = time.perf_counter()
        index.range_search(sub, 32)  # faiss keeps distances < radius
        qps = len(sub) / (time.perf_counter() - t)
        out[name] = {
            "build_s": round(build_s, 2),
            "qps": round(qps, 1),
            "rss_growth_mb": round(_rss_mb() - before, 1),
        }
        del index
    return out


def run_one(n: int, seed: int, cli_queries: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    half = cli_queries // 2
    base = rng.choice(n, size=half, replace=False)
    planted, planted_d = _flip(codes[base], rng, 0, 31)
    queries = np.concatenate(
        [planted, rng.integers(0, 2**64, size=(cli_queries - half, 4), dtype=np.uint64)]
    )
    tmp = Path(tempfile.mkdtemp(prefix="bank-bench-"))
    db = tmp / "bench.db"
    write_s = _write_bank(db, codes)
    with Bank.open(db) as bank:
        t = time.perf_counter()
        bank.refresh_index()  # what `verify bank import` does at its end
        build_s = time.perf_counter() - t
        chunks = bank.index().base.mih
    idx_mb = index_path(db).stat().st_size / 2**20
    hashes = tmp / "q.txt"
    hashes.write_text("".join(q.tobytes().hex() + "\n" for q in queries))

    cli = _cli(db, hashes)
    records = cli.pop("records")
    assert isinstance(records, list)
    planted_ok = sum(
        any(
            m["entry_id"] == f"e{int(base[i])}" and m["distance"] == int(planted_d[i])
            for m in records[i]["matches"]
        )
        for i in range(half)
    )
    random_hits = sum(bool(r["matches"]) for r in records[half:])

    # Pictures: 8 variants each, the planted hash at a random position among 7 random
    # ones; every planted row must come back (best of the 8) at its exact distance.
    pictures = 500
    groups = []
    for i in range(pictures):
        g = [PdqHash(h.tobytes(), 100) for h in rng.integers(0, 2**64, (8, 4), dtype=np.uint64)]
        g[int(rng.integers(0, 8))] = PdqHash(queries[i].tobytes(), 100)
        groups.append(g)
    with Bank.open(db) as bank:
        bank.index()
        t, c = time.perf_counter(), time.process_time()
        got = bank.match_batch(groups, max_distance=31)
        pic_s, pic_cpu = time.perf_counter() - t, time.process_time() - c
        pic_ok = sum(
            any(m.entry_id == f"e{int(base[i])}" and m.distance == int(planted_d[i]) for m in ms)
            for i, ms in enumerate(got)
        )
        # Brute force on a sample: the same (query, row, distance) pairs.
        sample = queries[:100]
        fast = bank.index().search(sample, radius=31)
        brute = FlatIndex(codes).search(sample, radius=31)
        fast_pairs = zip(fast[0].tolist(), (fast[1] - 1).tolist(), fast[2].tolist(), strict=True)
        brute_pairs = zip(
            brute.query.tolist(), brute.row.tolist(), brute.distance.tolist(), strict=True
        )
        same = sorted(fast_pairs) == sorted(brute_pairs)
    out: dict[str, object] = {
        "n": n,
        "mih_chunks": chunks.chunks if chunks is not None else None,
        "write_db_s": round(write_s, 2),
        "db_mb": round(db.stat().st_size / 2**20, 1),
        "index_build_and_save_s": round(build_s, 2),
        "index_file_mb": round(idx_mb, 1),
        "cli": cli,
        "cli_planted_found_exact": planted_ok / half,
        "cli_random_query_hits": random_hits,
        "pictures_8_variants_per_s": round(pictures / pic_s, 1),
        "pictures_8_variants_per_cpu_s": round(pictures / pic_cpu, 1),
        "pictures_planted_found_exact": pic_ok / pictures,
        "same_as_brute_force_100_queries": same,
        "peers": _peers(codes, queries),
    }
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return out


def import_bench(rows: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    tmp = Path(tempfile.mkdtemp(prefix="bank-import-"))
    csv_path = tmp / "hashes.csv"
    hexes = rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)
    with csv_path.open("w") as f:
        f.write("id,pdq,quality,label\n")
        for i in range(rows):
            f.write(f"h{i},{hexes[i].tobytes().hex()},{50 + i % 51},bench\n")
        f.write("bad1,xyz,90,bench\nbad2," + "0" * 64 + ",20,bench\n")
    t = time.perf_counter()
    with Bank.open(tmp / "b.db", create=True) as bank:
        result = bank.import_csv(csv_path)
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    with Bank.open(tmp / "b.db") as bank:
        bank.index()
    load_s = time.perf_counter() - t
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()
    return {
        "rows": rows,
        "import_s": round(import_s, 2),
        "imported": result.imported,
        "invalid_reported": len(result.invalid),
        "open_and_index_s": round(load_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--import-rows", type=int, default=1_000_000)
    parser.add_argument("--cli-queries", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--import-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "bank.json")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.seed, args.cli_queries)))
        return
    if args.import_only:
        print(json.dumps(import_bench(args.import_rows, args.seed)))
        return

    def child(*extra: str) -> dict[str, object]:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        done = subprocess.run(
            [sys.executable, __file__, "--seed", str(args.seed), *extra],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    results: dict[str, object] = {
        "benchmark": "bank_index",
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "load_average_start": os.getloadavg(),
        "notes": "one core per process; qps_hash counts query hashes (a picture is 8); "
        "recall is exact by construction (multi-index hashing) and checked",
        "import": child("--import-only", "--import-rows", str(args.import_rows))
        if args.import_rows
        else None,
        "sizes": [],
    }
    print(json.dumps(results["import"]), flush=True)
    for n in args.sizes:
        r = child("--one", str(n), "--cli-queries", str(args.cli_queries))
        print(json.dumps(r), flush=True)
        results["sizes"].append(r)  # type: ignore[union-attr]
    results["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
