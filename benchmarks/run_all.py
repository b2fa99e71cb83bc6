"""Run every benchmark once, in sequence, writing results under ``bench-out/``.

Usage (from the repository root; ``make bench`` installs the peers and runs this)::

    JINJJA_SHARED=../shared python benchmarks/run_all.py [--quick] [--only NAME ...]

Each benchmark is its own script (see its docstring for options and protocol); this driver
only runs them one after another in fresh processes, so one failing benchmark does not stop
the others, and prints where each result landed. The README quotes these files.

``--quick`` shrinks the long runs (fewer images, trials, entries) for a smoke test; the
numbers in the README come from a full run. Benchmarks are measurements, not tests: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# name -> (full command, quick command); each writes bench-out/<file>
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "check": (["check_throughput.py"], ["check_throughput.py", "--rounds", "1"]),
    "watermark": (
        [
            "watermark_bench.py",
            "run",
            "--methods",
            "ours,dwtDct,dwtDctSvd,blind",
            "--sets",
            "512,1080",
        ],
        ["watermark_bench.py", "run", "--methods", "ours,dwtDct", "--sets", "512", "--limit", "2"],
    ),
    "watermark-rivagan": (
        ["watermark_bench.py", "run", "--methods", "rivaGan", "--sets", "512", "--tag", "riva"],
        [
            "watermark_bench.py",
            "run",
            "--methods",
            "rivaGan",
            "--sets",
            "512",
            "--limit",
            "1",
            "--tag",
            "riva",
        ],
    ),
    "watermark-null": (
        ["watermark_null.py", "--trials", "10000"],
        ["watermark_null.py", "--trials", "200"],
    ),
    "watermark-timing": (["watermark_timing.py"], ["watermark_timing.py"]),
    "watermark-report": (["watermark_bench.py", "report"], ["watermark_bench.py", "report"]),
    "video": (["video_watermark.py"], ["video_watermark.py", "--seconds", "2", "--no-real"]),
    "video-transcode": (
        ["video_transcode.py"],
        ["video_transcode.py", "--seconds", "3", "--rounds", "1"],
    ),
    "bank": (["bank_index.py"], ["bank_index.py", "--sizes", "100000", "--import-rows", "100000"]),
    "batch": (["batch_throughput.py"], ["batch_throughput.py", "--count", "200"]),
    "render": (["render_report.py"], ["render_report.py", "--records", "200", "--pictures", "20"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args()
    if not os.environ.get("JINJJA_SHARED"):
        shared = ROOT.parent / "shared"
        if shared.is_dir():
            os.environ["JINJJA_SHARED"] = str(shared)
        else:
            print("benchmarks: set JINJJA_SHARED to the shared data folder", file=sys.stderr)
            return 2
    failed: list[str] = []
    for name in args.only or list(BENCHMARKS):
        full, quick = BENCHMARKS[name]
        cmd = [PY, str(ROOT / "benchmarks" / (quick if args.quick else full)[0])]
        cmd += (quick if args.quick else full)[1:]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        rc = subprocess.call(cmd, cwd=ROOT)
        print(f"== {name}: exit {rc} after {time.perf_counter() - start:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"results in {ROOT / 'bench-out'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
