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

One untimed warm-up pass, then ``--rounds`` (default 3) timed rounds of each, interleaved.
One :class:`provenance.Checker` alone is timed too, to separate the command line's own
cost from the library's, and the command again with generator marks on (the pixels of
every picture decoded and searched), to show what that default costs. Every run records
wall time and CPU time (user + system of this process and of any worker processes it
started and reaped): the machine may be shared, so CPU time is the
steadier measure of the work done, wall time what a user waits. Prints the medians,
files/second and the ratios ``verify / bare`` in both (goal: at most 1.2x) and writes
``bench-out/check_throughput.json``.

Run: ``JINJJA_SHARED=/path/to/shared .venv/bin/python benchmarks/check_throughput.py``
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TRUST_FILES = (
    "c2pa-conformance-public/C2PA-TRUST-LIST.pem",
    "c2pa-conformance-public/C2PA-TSA-TRUST-LIST.pem",
    "cai-verify-site/anchors.pem",
    "c2pa-rs-test/test_cert_root_bundle.pem",
)


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its reaped child processes."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(run: Any) -> tuple[float, float, Any]:
    """Call ``run()``; return (wall seconds, CPU seconds, its result)."""
    cpu = _cpu()
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, _cpu() - cpu, value


def _media_files(fixtures: Path) -> list[Path]:
    from verify_cli.inputs import expand_inputs

    return [item.path for item in expand_inputs([fixtures], recursive=True)]


def _marks_flags() -> tuple[list[str], list[str]]:
    """The ``verify check`` arguments that turn generator marks on and off."""
    import typer

    from verify_cli.app import app

    command = typer.main.get_command(app).commands["check"]  # type: ignore[attr-defined]
    spellings = {o for p in command.params for o in (*p.opts, *getattr(p, "secondary_opts", ()))}
    if "--no-generator-marks" in spellings:
        return [], ["--no-generator-marks"]  # on by default
    return ["--generator-marks"], []


def run_verify(fixtures: Path, anchors: list[Path], flags: list[str]) -> int:
    """Run the command in-process; return its exit code."""
    from verify_cli.app import app

    args = ["check", "-r", "--format", "jsonl", "--output", os.devnull, *flags]
    for anchor in anchors:
        args += ["--trust-anchors", str(anchor)]
    code = app([*args, str(fixtures)], prog_name="verify", standalone_mode=False)
    return int(code or 0)


def run_bare(files: list[Path], anchors: list[Path]) -> dict[str, int]:
    """Run a plain Reader loop; return the outcome counts."""
    import c2pa

    from provenance.credentials.trust import eku_config

    pem = "\n".join(a.read_text(encoding="utf-8", errors="replace") for a in anchors)
    settings = {
        "trust": {"trust_anchors": pem, "trust_config": eku_config()},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    outcomes: dict[str, int] = {}
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
    return outcomes


def run_library(files: list[Path], anchors: list[Path]) -> None:
    """Run one ``provenance.Checker`` alone (no command line, no rendering)."""
    from provenance import Checker, CheckOptions

    with Checker(CheckOptions(trust_anchors=anchors)) as checker:
        for path in files:
            checker.check(path)


def main() -> None:
    """Run the three loops ``--rounds`` times each and report the medians."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
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
    outcomes = run_bare(files, anchors)
    run_library(files, anchors)

    marks_on, marks_off = _marks_flags()
    loops = {
        "verify": lambda: run_verify(fixtures, anchors, marks_off),
        "bare": lambda: run_bare(files, anchors),
        "library": lambda: run_library(files, anchors),
        "verify_marks": lambda: run_verify(fixtures, anchors, marks_on),
    }
    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in loops}
    exit_code = 0
    for _ in range(args.rounds):
        for name, loop in loops.items():
            wall, cpu, value = _timed(loop)
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)
            if name == "verify":
                exit_code = value
    med = {
        name: {kind: statistics.median(v) for kind, v in runs.items()}
        for name, runs in samples.items()
    }

    import c2pa

    def rate(seconds: float) -> float:
        return round(len(files) / seconds, 2)

    result = {
        "benchmark": "check_throughput",
        "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "files": len(files),
        "bytes": total_bytes,
        "rounds": args.rounds,
        "median_seconds": {n: {k: round(v, 3) for k, v in m.items()} for n, m in med.items()},
        "samples_seconds": {
            n: {k: [round(x, 3) for x in v] for k, v in m.items()} for n, m in samples.items()
        },
        "verify_files_per_second": {k: rate(v) for k, v in med["verify"].items()},
        "bare_files_per_second": {k: rate(v) for k, v in med["bare"].items()},
        "library_files_per_second": {k: rate(v) for k, v in med["library"].items()},
        "verify_marks_files_per_second": {k: rate(v) for k, v in med["verify_marks"].items()},
        "ratio_marks_on_over_off": {
            k: round(med["verify_marks"][k] / med["verify"][k], 3) for k in ("wall", "cpu")
        },
        "verify_exit_code": exit_code,
        "bare_outcomes": dict(sorted(outcomes.items())),
        "ratio_verify_over_bare": {
            k: round(med["verify"][k] / med["bare"][k], 3) for k in ("wall", "cpu")
        },
        "ratio_library_over_bare": {
            k: round(med["library"][k] / med["bare"][k], 3) for k in ("wall", "cpu")
        },
        "goal_ratio": 1.2,
        "trust_anchor_files": list(TRUST_FILES),
        "c2pa_python": getattr(c2pa, "__version__", None),
        "c2pa_sdk": c2pa.sdk_version(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} x{os.cpu_count()}",
        "load_average_at_end": list(os.getloadavg()),
    }
    out = ROOT / "bench-out" / "check_throughput.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(files)} media files, {total_bytes / 1e6:.1f} MB, median of {args.rounds} rounds")
    print(f"{'':28}  {'wall s':>7} {'files/s':>8}  {'CPU s':>7} {'files/s':>8}")
    for name, label in (
        ("verify", "verify check --format jsonl"),
        ("bare", "bare c2pa.Reader loop"),
        ("library", "one Checker alone"),
        ("verify_marks", "verify check, generator marks"),
    ):
        w, c = med[name]["wall"], med[name]["cpu"]
        print(f"{label:28}: {w:7.2f} {len(files) / w:8.1f}  {c:7.2f} {len(files) / c:8.1f}")
    for kind in ("wall", "cpu"):
        ratio = med["verify"][kind] / med["bare"][kind]
        verdict = "meets" if ratio <= 1.2 else "misses"
        print(f"ratio verify / bare ({kind:4}) : {ratio:.2f}x ({verdict} the 1.2x goal)")
    marks = med["verify_marks"]["cpu"] / med["verify"]["cpu"]
    print(f"generator marks on / off (cpu): {marks:.2f}x")
    print(f"results written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
