"""Throughput of ``verify check --format jsonl`` versus a bare ``c2pa.Reader`` loop.

Both read the media files under ``$JINJJA_SHARED/c2pa/fixtures`` (found the way
``verify check -r`` finds them) with the same trust settings: the official C2PA trust
list, the C2PA TSA list, the CAI interim anchors and the c2pa-rs test roots, plus our
EKU configuration, remote fetches off.

* ``verify``: the Typer command in-process (``verify check -r --format jsonl --output
  /dev/null --trust-anchors ...``): the same code path as the command line (hashing,
  sniffing, dimensions, chain, AI signals, rendering).
* ``bare``: ``c2pa.Reader(path, context=ctx)`` + ``json()`` + ``get_validation_state()``
  per file, with one shared ``Context``, exceptions caught.

One untimed warm-up pass, then one timed run each. ``provenance.check`` alone is timed too, to
separate the command line's own cost from the library's. Prints files/second of both and the ratio
(goal: ``verify`` takes at most 1.2x the bare loop's time) and writes
``bench-out/check_throughput.json``.

Run: ``JINJJA_SHARED=/path/to/shared .venv/bin/python benchmarks/check_throughput.py``
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRUST_FILES = (
    "c2pa-conformance-public/C2PA-TRUST-LIST.pem",
    "c2pa-conformance-public/C2PA-TSA-TRUST-LIST.pem",
    "cai-verify-site/anchors.pem",
    "c2pa-rs-test/test_cert_root_bundle.pem",
)


def _media_files(fixtures: Path) -> list[Path]:
    from verify_cli.inputs import expand_inputs

    return [item.path for item in expand_inputs([fixtures], recursive=True)]


def run_verify(fixtures: Path, anchors: list[Path]) -> tuple[float, int]:
    """Time the command in-process; return (seconds, exit code)."""
    from verify_cli.app import app

    args = ["check", "-r", "--format", "jsonl", "--output", os.devnull]
    for anchor in anchors:
        args += ["--trust-anchors", str(anchor)]
    started = time.perf_counter()
    code = app([*args, str(fixtures)], prog_name="verify", standalone_mode=False)
    return time.perf_counter() - started, int(code or 0)


def run_bare(files: list[Path], anchors: list[Path]) -> tuple[float, dict[str, int]]:
    """Time a plain Reader loop; return (seconds, outcome counts)."""
    import c2pa

    from provenance.trust import eku_config

    pem = "\n".join(a.read_text(encoding="utf-8", errors="replace") for a in anchors)
    settings = {
        "trust": {"trust_anchors": pem, "trust_config": eku_config()},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    outcomes: dict[str, int] = {}
    started = time.perf_counter()
    ctx = c2pa.Context.from_dict(settings)
    for path in files:
        try:
            with c2pa.Reader(str(path), context=ctx) as reader:
                json.loads(reader.json())
                state = str(reader.get_validation_state())
        except c2pa.C2paError as exc:
            state = type(exc).__name__.lstrip("_")
        except Exception as exc:  # noqa: BLE001 - count, do not stop the loop
            state = type(exc).__name__
        outcomes[state] = outcomes.get(state, 0) + 1
    return time.perf_counter() - started, outcomes


def run_library(files: list[Path], anchors: list[Path]) -> float:
    """Time ``provenance.check`` alone (no command line, no rendering)."""
    import provenance

    started = time.perf_counter()
    for path in files:
        provenance.check(path, trust_anchors=anchors)
    return time.perf_counter() - started


def main() -> None:
    """Run both loops once and report."""
    shared = os.environ.get("JINJJA_SHARED")
    if not shared:
        raise SystemExit("set JINJJA_SHARED to the shared data directory")
    fixtures = Path(shared) / "c2pa" / "fixtures"
    anchors = [Path(shared) / "c2pa" / "trust" / name for name in TRUST_FILES]
    files = _media_files(fixtures)
    total_bytes = sum(p.stat().st_size for p in files)
    os.environ["JINJJA_DATA_DIR"] = tempfile.mkdtemp(prefix="jinjja-bench-")

    # Warm-up (not timed): one pass of each over every file, so lazy imports (Pillow
    # plugins, PyAV, detectors), the native library and the OS file cache are loaded.
    run_bare(files, anchors)
    run_library(files, anchors)

    bare_s, outcomes = run_bare(files, anchors)
    verify_s, exit_code = run_verify(fixtures, anchors)
    library_s = run_library(files, anchors)

    import c2pa

    result = {
        "benchmark": "check_throughput",
        "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "files": len(files),
        "bytes": total_bytes,
        "verify_seconds": round(verify_s, 3),
        "verify_files_per_second": round(len(files) / verify_s, 2),
        "verify_exit_code": exit_code,
        "bare_seconds": round(bare_s, 3),
        "bare_files_per_second": round(len(files) / bare_s, 2),
        "bare_outcomes": dict(sorted(outcomes.items())),
        "ratio_time_verify_over_bare": round(verify_s / bare_s, 3),
        "library_seconds": round(library_s, 3),
        "cli_overhead_seconds": round(verify_s - library_s, 3),
        "goal_ratio": 1.2,
        "trust_anchor_files": list(TRUST_FILES),
        "c2pa_python": getattr(c2pa, "__version__", None),
        "c2pa_sdk": c2pa.sdk_version(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} x{os.cpu_count()}",
    }
    out = ROOT / "bench-out" / "check_throughput.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(files)} media files, {total_bytes / 1e6:.1f} MB")
    for name, seconds in (
        ("verify check --format jsonl", verify_s),
        ("bare c2pa.Reader loop", bare_s),
        ("provenance.check alone", library_s),
    ):
        print(f"{name:28}: {seconds:6.2f} s  {len(files) / seconds:7.1f} files/s")
    ratio = verify_s / bare_s
    verdict = "meets" if ratio <= 1.2 else "misses"
    print(f"ratio (verify / bare time)  : {ratio:.2f}x ({verdict} the 1.2x goal)")
    print(f"results written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
