"""Batch throughput of ``provenance.batch.run_batch``: 1 and 2 local workers, Dask.

Generates (once, in ``--dir``) a folder of mixed files: JPEG, PNG and WebP pictures of
320x240 to 800x600 pixels, about 10 % signed with a test PKI (``provenance.sign``) and
about 5 % broken (truncated, empty, text named ``.jpg``). Then times, over the same
inputs and options (``--fixed-time``, the test root as trust anchor):

* ``pool1``: one worker process (``jobs=1`` with a time limit, so the work leaves the
  parent process exactly as with several workers);
* ``pool2``: two worker processes;
* ``dask2``: a ``LocalCluster`` of two single-threaded worker processes;
* ``inline``: ``jobs=1`` in this process (no isolation), for reference.

Each is timed from the call to the last record ("wall", worker start-up included) and
from the first record to the last ("steady"), and the CPU time of this process and of its
finished child processes (workers, Dask nannies and workers) is recorded: on a machine
shared with other work, wall-clock speed-ups are capped by the CPU actually available,
while CPU milliseconds per file still show what each executor costs. From the steady CPU
cost per file (worker start-up, measured on a one-file batch, taken out) the speed-up of
two workers over one on an idle two-core machine is projected as
``2 * worker_ms(pool1) / (worker_ms(pool2) + parent_ms(pool2))``. Goals: steady
``pool2 / pool1`` at least 1.8 and Dask at most 15 % slower than ``pool2``. The records
of every run must be equal. Writes ``bench-out/batch.json``.

Run: ``.venv/bin/python benchmarks/batch_throughput.py [--count 2000] [--dir DIR]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIXED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def generate(folder: Path, count: int, seed: int = 7) -> tuple[list[Path], Path]:
    """Write ``count`` mixed files (once); return them in walking order and the root PEM."""
    import numpy as np
    from PIL import Image

    from provenance.pki import make_pki
    from provenance.sign import capture_manifest, sign_file

    root_pem = folder / "root.pem"
    done = folder / ".complete"
    pki = make_pki("Batch Bench", algs=("es256",), seed=b"batch-bench")
    if not done.exists() or int(done.read_text()) != count:
        rng = np.random.default_rng(seed)
        folder.mkdir(parents=True, exist_ok=True)
        root_pem.write_bytes(pki.root_pem)
        sign_src = folder / "_sign_src.jpg"
        for i in range(count):
            sub = folder / f"d{i // 500:02d}"
            sub.mkdir(exist_ok=True)
            w = int(rng.integers(320, 801)) // 8 * 8
            h = int(rng.integers(240, 601)) // 8 * 8
            cells = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
            img = np.kron(cells, np.ones((8, 8, 1), dtype=np.uint8))
            noise = rng.normal(0, 6, size=img.shape)
            pic = Image.fromarray(np.clip(img + noise, 0, 255).astype(np.uint8))
            kind = i % 20
            if kind in (0, 10):  # signed JPEG
                pic.save(sign_src, "JPEG", quality=85)
                sign_file(
                    sign_src,
                    sub / f"{i:05d}_signed.jpg",
                    cert_chain_pem=pki.chain_pem("es256"),
                    key_pem=pki.key_pem("es256"),
                    alg="es256",
                    manifest=capture_manifest(f"{i:05d}.jpg"),
                )
            elif kind == 1:  # truncated
                pic.save(sign_src, "JPEG", quality=85)
                data = sign_src.read_bytes()
                (sub / f"{i:05d}_broken.jpg").write_bytes(data[: len(data) // 3])
            elif kind == 2 and i % 40 == 2:
                (sub / f"{i:05d}_empty.png").write_bytes(b"")
            elif kind == 3 and i % 40 == 3:
                (sub / f"{i:05d}_text.jpg").write_text("not a picture\n")
            elif kind in (2, 3, 4, 5):
                pic.save(sub / f"{i:05d}.png", "PNG")
            elif kind in (6, 7, 8):
                pic.save(sub / f"{i:05d}.webp", "WEBP", quality=80)
            else:
                pic.save(sub / f"{i:05d}.jpg", "JPEG", quality=int(rng.integers(60, 96)))
        sign_src.unlink(missing_ok=True)
        done.write_text(str(count))
    from verify_cli.inputs import expand_inputs

    files = [item.path for item in expand_inputs([folder], recursive=True)]
    return files, root_pem


def timed(files: list[Path], options: Any, **kwargs: Any) -> dict[str, Any]:
    """Run one batch; return timings and the records."""
    from provenance.batch import run_batch

    before = _cpu()
    started = time.perf_counter()
    first: float | None = None
    records = []
    for record in run_batch(files, options, **kwargs):
        if first is None:
            first = time.perf_counter()
        records.append(record.data)
    end = time.perf_counter()
    cpu = tuple(b - a for a, b in zip(before, _cpu(), strict=True))
    assert first is not None
    wall = end - started
    steady = end - first
    return {
        "wall_seconds": round(wall, 3),
        "wall_files_per_second": round(len(files) / wall, 2),
        "steady_seconds": round(steady, 3),
        "steady_files_per_second": round((len(files) - 1) / steady, 2),
        "cpu_seconds_parent": round(cpu[0], 3),
        "cpu_seconds_workers": round(cpu[1], 3),
        "cpu_ms_per_file": round(1000 * (cpu[0] + cpu[1]) / len(files), 3),
        "records": records,
    }


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished child processes."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def main() -> None:
    """Generate the files, run every executor, check equality and write the result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "batch.json")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.gettempdir()) / f"jinjja-batch-bench-{args.count}"
    os.environ["JINJJA_DATA_DIR"] = tempfile.mkdtemp(prefix="jinjja-bench-")

    from provenance.batch import BatchOptions

    files, root = generate(folder, args.count)
    options = BatchOptions(trust_anchors=(root,), analyzed_at=FIXED)
    timed(files[:50], options)  # warm the file cache and lazy imports (not reported)

    # CPU spent on starting and stopping the workers (measured on a one-file batch), so
    # that the steady per-file cost of each executor can be told apart from it.
    fixed = {
        "pool1": timed(files[:1], options, jobs=1, timeout=600),
        "pool2": timed(files[:2], options, jobs=2, timeout=600),
    }
    runs: dict[str, dict[str, Any]] = {}
    runs["inline"] = timed(files, options)
    runs["pool1"] = timed(files, options, jobs=1, timeout=600)
    runs["pool2"] = timed(files, options, jobs=2, timeout=600)
    if not args.skip_dask:
        runs["dask2"] = timed(files, options, executor="local:2", timeout=600)
    reference = runs["inline"].pop("records")
    identical = {name: run.pop("records") == reference for name, run in list(runs.items())[1:]}
    verdicts: dict[str, int] = {}
    for record in reference:
        verdicts[record["verdict"]] = verdicts.get(record["verdict"], 0) + 1

    per_file: dict[str, dict[str, float]] = {}
    for name in ("pool1", "pool2"):
        extra = fixed[name]["cpu_seconds_workers"]
        first_files = len(fixed[name]["records"])
        workers = (runs[name]["cpu_seconds_workers"] - extra) / (len(files) - first_files)
        parent = runs[name]["cpu_seconds_parent"] / len(files)
        per_file[name] = {"worker_ms": 1000 * workers, "parent_ms": 1000 * parent}
    # On an idle machine with 2 cores: one worker runs at 1/worker_ms (the parent has the
    # other core); two workers share 2 cores with the parent.
    projected = (2 * per_file["pool1"]["worker_ms"]) / (
        per_file["pool2"]["worker_ms"] + per_file["pool2"]["parent_ms"]
    )

    def ratio(a: str, b: str, key: str) -> float | None:
        if a not in runs or b not in runs:
            return None
        return round(runs[a][key] / runs[b][key], 3)

    result = {
        "benchmark": "batch_throughput",
        "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "verdicts": dict(sorted(verdicts.items())),
        "runs": runs,
        "identical_records": identical,
        "speedup_pool2_over_pool1_steady": ratio("pool2", "pool1", "steady_files_per_second"),
        "speedup_pool2_over_pool1_wall": ratio("pool2", "pool1", "wall_files_per_second"),
        "dask_overhead_steady": (
            round(1 - ratio("dask2", "pool2", "steady_files_per_second"), 3)  # type: ignore[operator]
            if "dask2" in runs
            else None
        ),
        "dask_overhead_wall": (
            round(1 - ratio("dask2", "pool2", "wall_files_per_second"), 3)  # type: ignore[operator]
            if "dask2" in runs
            else None
        ),
        "steady_cpu_ms_per_file": {
            k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in per_file.items()
        },
        "speedup_pool2_over_pool1_projected_idle_2_cores": round(projected, 3),
        "goals": {"speedup_min": 1.8, "dask_overhead_max": 0.15},
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    for name, run in runs.items():
        print(
            f"{name:7s} {run['wall_files_per_second']:8.1f} files/s wall, "
            f"{run['steady_files_per_second']:8.1f} steady"
        )


if __name__ == "__main__":
    main()
