"""Batch throughput of ``provenance.batch.runner.run_batch``: 1 and 2 local workers, Dask.

Generates (once, in ``--dir``) a folder of mixed, real-world-sized files: photo-like
JPEG, PNG and WebP pictures of 1 to 3 megapixels (60 % JPEG, 10 % PNG, 20 % WebP), 15 %
signed JPEGs (test PKI, ``provenance.credentials.sign``) and 10 % broken files (truncated JPEG or
PNG, empty, text named ``.jpg``). Then times, over the same inputs and options
(``--fixed-time``, the test root as trust anchor):

* ``pool1``: one worker process (``jobs=1`` with a time limit, so the work leaves the
  parent process exactly as with several workers);
* ``pool2``: two worker processes;
* ``dask2``: a ``LocalCluster`` of two single-threaded worker processes;
* ``inline``: ``jobs=1`` in this process (no isolation), for reference.

Every file is read once first (OS cache warm), then ``--rounds`` (default 3) interleaved
rounds of every executor run and the medians are reported. Each is timed from the call
to the last record ("wall", worker start-up included) and
from the first record to the last ("steady"), and the CPU time of this process and of its
finished child processes (workers, Dask nannies and workers) is recorded: on a machine
shared with other work, wall-clock speed-ups are capped by the CPU actually available,
while CPU milliseconds per file still show what each executor costs. From the steady CPU
cost per file (worker start-up, measured on a one-file batch, taken out) the speed-up of
two workers over one on an idle two-core machine is projected as
``2 * worker_ms(pool1) / (worker_ms(pool2) + parent_ms(pool2))``. Goals, judged on the
**steady** files/s (start-up of the pool or cluster excluded; wall files/s reported
beside): ``pool2 / pool1`` at least 1.8 and Dask at most 15 % slower than ``pool2``. The
records of every run must be equal. Writes ``bench-out/batch.json``.

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


def _photo(rng: Any, width: int, height: int) -> Any:
    """A photo-like picture: smooth random shapes, edges and sensor-like noise.

    Compresses like a photograph (a 2 MP JPEG at quality 85 is a few hundred KB), unlike
    flat colour or white noise.
    """
    import numpy as np
    from PIL import Image, ImageFilter

    coarse = rng.integers(0, 256, size=(height // 64 + 2, width // 64 + 2, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    detail = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    texture = Image.fromarray(detail).resize((width, height), Image.Resampling.NEAREST)
    texture = texture.filter(ImageFilter.GaussianBlur(2))
    mixed = np.asarray(Image.blend(base, texture, 0.25), dtype=np.int16)
    noise = rng.normal(0, 4, size=mixed.shape[:2] + (1,)).astype(np.int16)
    return Image.fromarray(np.clip(mixed + noise, 0, 255).astype(np.uint8))


def _size(rng: Any, low_mp: float, high_mp: float) -> tuple[int, int]:
    """Width and height of ``low_mp`` to ``high_mp`` megapixels in a common aspect ratio."""
    aspect = (4 / 3, 3 / 2, 16 / 9)[int(rng.integers(0, 3))]
    pixels = float(rng.uniform(low_mp, high_mp)) * 1e6
    height = int((pixels / aspect) ** 0.5) // 16 * 16
    width = int(height * aspect) // 16 * 16
    return (width, height) if rng.random() < 0.8 else (height, width)  # some portrait


def _window(rng: Any, bases: list[Any], width: int, height: int) -> Any:
    """A ``width`` x ``height`` window of a random base picture, flipped at random and with
    its own brightness."""
    from PIL import Image

    base = bases[int(rng.integers(0, len(bases)))]
    if width > height:
        base = base.transpose(Image.Transpose.ROTATE_90) if base.width < width else base
    elif base.height < height:
        base = base.transpose(Image.Transpose.ROTATE_90)
    x = int(rng.integers(0, base.width - width + 1))
    y = int(rng.integers(0, base.height - height + 1))
    pic = base.crop((x, y, x + width, y + height))
    if rng.random() < 0.5:
        pic = pic.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    shift = int(rng.integers(-24, 25))
    return pic.point([min(255, max(0, v + shift)) for v in range(256)] * 3)


GENERATION = "photos-v2"
"""Bumped when the generated corpus changes, so an old folder is regenerated."""


def generate(folder: Path, count: int, seed: int = 7) -> tuple[list[Path], Path]:
    """Write ``count`` mixed files (once); return them in walking order and the root PEM.

    Per 20 files: 13 JPEG (3 of them signed with the test PKI), 1 PNG, 4 WebP and 2
    broken (a truncated JPEG; in turn an empty PNG, a text file named ``.jpg`` or a
    truncated PNG). JPEG and WebP pictures are 1 to 3 megapixels, PNG 1 to 1.5 (PNG
    photographs are large files). Each picture is a window of one of a few photo-like
    base pictures, flipped and with its own brightness, so that every file differs.
    """
    import numpy as np

    from provenance.credentials.sign import capture_manifest, sign_file
    from provenance.testing.pki import make_pki

    root_pem = folder / "root.pem"
    done = folder / ".complete"
    stamp = f"{GENERATION} {count}"
    pki = make_pki("Batch Bench", algs=("es256",), seed=b"batch-bench")
    if not done.exists() or done.read_text() != stamp:
        rng = np.random.default_rng(seed)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("d*/*"):
            old.unlink()
        root_pem.write_bytes(pki.root_pem)
        sign_src = folder / "_sign_src.jpg"
        bases = [_photo(rng, 2304, 1728) for _ in range(6)]
        for i in range(count):
            sub = folder / f"d{i // 500:02d}"
            sub.mkdir(exist_ok=True)
            kind = i % 20
            png = kind == 2
            pic = _window(rng, bases, *_size(rng, 1.0, 1.5 if png else 3.0))
            quality = int(rng.integers(75, 96))
            if kind in (0, 7, 14):  # signed JPEG
                pic.save(sign_src, "JPEG", quality=quality)
                sign_file(
                    sign_src,
                    sub / f"{i:05d}_signed.jpg",
                    cert_chain_pem=pki.chain_pem("es256"),
                    key_pem=pki.key_pem("es256"),
                    alg="es256",
                    manifest=capture_manifest(f"{i:05d}.jpg"),
                )
            elif kind == 1:  # truncated JPEG
                pic.save(sign_src, "JPEG", quality=quality)
                data = sign_src.read_bytes()
                (sub / f"{i:05d}_broken.jpg").write_bytes(data[: len(data) // 3])
            elif kind == 19:  # other broken files, in turn
                turn = (i // 20) % 3
                if turn == 0:
                    (sub / f"{i:05d}_empty.png").write_bytes(b"")
                elif turn == 1:
                    (sub / f"{i:05d}_text.jpg").write_text("not a picture\n")
                else:
                    pic.save(sign_src.with_suffix(".png"), "PNG", compress_level=1)
                    data = sign_src.with_suffix(".png").read_bytes()
                    (sub / f"{i:05d}_broken.png").write_bytes(data[: len(data) // 2])
            elif png:
                pic.save(sub / f"{i:05d}.png", "PNG", compress_level=1)
            elif kind in (4, 5, 6, 8):
                pic.save(sub / f"{i:05d}.webp", "WEBP", quality=quality - 5, method=0)
            else:
                pic.save(sub / f"{i:05d}.jpg", "JPEG", quality=quality)
        sign_src.unlink(missing_ok=True)
        sign_src.with_suffix(".png").unlink(missing_ok=True)
        done.write_text(stamp)
    from verify_cli.inputs import expand_inputs

    files = [item.path for item in expand_inputs([folder], recursive=True)]
    return files, root_pem


def timed(files: list[Path], options: Any, **kwargs: Any) -> dict[str, Any]:
    """Run one batch; return timings and the records."""
    from provenance.batch.runner import run_batch

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


def _median_run(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number over the rounds; the records of the first round (all
    rounds must agree); the per-round steady and wall files/s for the record."""
    import statistics

    out: dict[str, Any] = {}
    for key, value in samples[0].items():
        if key == "records":
            assert all(s["records"] == value for s in samples), "records differ between rounds"
            out[key] = value
        else:
            out[key] = round(statistics.median(s[key] for s in samples), 3)
    out["rounds_steady_files_per_second"] = [s["steady_files_per_second"] for s in samples]
    out["rounds_wall_files_per_second"] = [s["wall_files_per_second"] for s in samples]
    return out


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
    parser.add_argument(
        "--files",
        type=Path,
        default=None,
        help="check the files in this folder instead of generated ones (e.g. C2PA samples)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "batch.json")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (medians reported)")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.gettempdir()) / f"jinjja-batch-bench-{args.count}"
    os.environ["JINJJA_DATA_DIR"] = tempfile.mkdtemp(prefix="jinjja-bench-")

    from provenance.batch.runner import BatchOptions
    from provenance.check import CheckOptions

    if args.files is not None:
        files = sorted(p for p in args.files.iterdir() if p.is_file())
        options = BatchOptions(CheckOptions(analyzed_at=FIXED))
    else:
        files, root = generate(folder, args.count)
        options = BatchOptions(CheckOptions(trust_anchors=(root,), analyzed_at=FIXED))
    for path in files:  # every file in the OS cache, so no executor pays for the disk
        path.read_bytes()
    timed(files[:50], options)  # warm lazy imports (not reported)

    # CPU spent on starting and stopping the workers (measured on a one-file batch), so
    # that the steady per-file cost of each executor can be told apart from it.
    fixed = {
        "pool1": timed(files[:1], options, jobs=1, timeout=600),
        "pool2": timed(files[:2], options, jobs=2, timeout=600),
    }
    executors: dict[str, dict[str, Any]] = {
        "inline": {},
        "pool1": {"jobs": 1, "timeout": 600},
        "pool2": {"jobs": 2, "timeout": 600},
    }
    if not args.skip_dask:
        executors["dask2"] = {"executor": "local:2", "timeout": 600}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in executors}
    for _ in range(args.rounds):  # interleaved, so that a burst of load hits all alike
        for name, kwargs in executors.items():
            rounds[name].append(timed(files, options, **kwargs))
    runs = {name: _median_run(samples) for name, samples in rounds.items()}
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
        "goals": {"speedup_min": 1.8, "dask_overhead_max": 0.15, "judged_on": "steady"},
        "rounds": args.rounds,
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
