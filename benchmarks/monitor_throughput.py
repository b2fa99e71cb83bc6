"""Throughput of ``verify monitor run``: 1,000 URLs on a loopback site, 2 pictures per page.

Builds (in a temporary directory) 1,000 HTML pages, each with two ``<img>`` of its own: 2,000
distinct JPEGs of 480x360 (30-50 KB, every one with its own bytes, so each is fetched,
SHA-256'd and PDQ-hashed with its 8 rotations/flips; nothing is served from a cache). One
page in ten shows an edited copy (mirrored, resized, re-encoded) of the case's reference, so
100 URLs are ``MATCH`` and 900 ``NO_MATCH``. The site is Python's ``http.server`` in a child
process on 127.0.0.1 (HTTP/1.0: a new connection per request, 3,000 requests per pass).

Then times one pass of :func:`provenance.monitor.run` over the 1,000 URLs with the
politeness rules as they are (at most 2 requests at a time to the one host), the delay
between requests set to 0 (``--delay 0``: one loopback host, so the default 1 s spacing
would measure the delay, not the tool), without evidence, and once with ``--evidence`` (a
WACZ for each of the 100 MATCH URLs). Target: at most 60 s for the pass without evidence on
the 2-core machine. Writes ``bench-out/monitor.json``.

Run: ``.venv/bin/python benchmarks/monitor_throughput.py [--count 1000]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from provenance.monitor import EvidenceOptions, MonitorStore, RunOptions, fingerprint_bytes, run


def _photo(rng: np.random.Generator) -> np.ndarray:
    small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((480, 360), Image.Resampling.BICUBIC))


def _jpeg(pixels: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def build_site(root: Path, count: int) -> bytes:
    """Write the pages and pictures; return the reference picture's bytes."""
    rng = np.random.default_rng(7)
    reference = _photo(rng)
    copy = Image.fromarray(reference[:, ::-1]).resize((400, 300), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    copy.save(buf, "JPEG", quality=70)
    edited = buf.getvalue()
    (root / "img").mkdir()
    for i in range(count):
        names = []
        for k in range(2):
            name = f"img/{i}-{k}.jpg"
            data = edited if (k == 1 and i % 10 == 0) else _jpeg(_photo(rng))
            if k == 1 and i % 10 == 0:
                data = edited + f"<!-- {i} -->".encode()  # same picture, bytes of its own
            (root / name).write_bytes(data)
            names.append(name)
        imgs = "".join(f'<img src="/{n}" alt="">' for n in names)
        page = (
            f"<!doctype html><html><head><title>post {i}</title></head><body>{imgs}</body></html>"
        )
        (root / f"post{i}.html").write_text(page)
    return _jpeg(reference, 95)


def serve(root: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
            str(root),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    port = re.search(r"port (\d+)", line)
    if port is None:
        proc.kill()
        raise SystemExit(f"the site did not start: {line!r}")
    return proc, f"http://127.0.0.1:{port.group(1)}"


def timed_pass(db: Path, options: RunOptions) -> tuple[float, dict[str, int]]:
    with MonitorStore.open(db) as store:
        start = time.perf_counter()
        summary = run(store, options)
        return time.perf_counter() - start, summary.by_status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("bench-out/monitor.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jinjja-monitor-bench-") as tmp:
        root = Path(tmp) / "site"
        root.mkdir()
        t0 = time.perf_counter()
        reference = build_site(root, args.count)
        built = time.perf_counter() - t0
        proc, base = serve(root)
        try:
            db = Path(tmp) / "cases.db"
            with MonitorStore.open(db, create=True) as store:
                urls = [f"{base}/post{i}.html" for i in range(args.count)]
                store.add("bench", urls, [fingerprint_bytes(reference, "reference.jpg")])
            plain, counts = timed_pass(db, RunOptions(delay=0.0))
            evidence = EvidenceOptions(Path(tmp) / "evidence")
            with_ev, counts_ev = timed_pass(db, RunOptions(delay=0.0, evidence=evidence))
        finally:
            proc.terminate()
            proc.wait()
    result = {
        "urls": args.count,
        "requests_per_pass": args.count * 3,
        "site_build_s": round(built, 1),
        "pass_s": round(plain, 1),
        "urls_per_s": round(args.count / plain, 1),
        "statuses": counts,
        "pass_with_evidence_s": round(with_ev, 1),
        "statuses_with_evidence": counts_ev,
        "target_s": 60,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
