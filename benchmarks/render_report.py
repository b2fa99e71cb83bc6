"""Time and size of the self-contained HTML report (``verify check --format html``).

Builds ``--records`` reports (default 1,000) of the kinds a batch meets (TRUSTED with a
two-level chain, TRUSTED over a failing ingredient, INCOMPLETE, INVALID, NO_CREDENTIALS,
RECOVERED with watermark, bank match and metadata facts, ERROR), each pointing at one of
``--pictures`` (default 100) distinct photographs of 1920 px (scikit-image's sample photos,
enlarged and shifted, saved as JPEG quality 90), and renders them with
:func:`provenance.render.render_check_report` into a temporary file, for each
``--thumbnails`` mode. Every report decodes its picture again (no cache), as in a real batch.

The goal (issue #15): 1,000 records with thumbnails in at most 10 s and 30 MB. Reports wall
and CPU time, the page size, bytes per record and the peak resident memory, and writes
``bench-out/render_report.json``. Nothing here asserts a time.

Run: ``.venv/bin/python benchmarks/render_report.py [--records 1000] [--modes full,blur,none]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from provenance.render import Lang, Thumbnails, render_check_report  # noqa: E402
from provenance.report import (  # noqa: E402
    Action,
    AiAssessment,
    AiLabel,
    AiSignal,
    BankMatch,
    ChainNode,
    Failure,
    Issuer,
    MetadataFact,
    Recovery,
    Report,
    ReportError,
    Subject,
    ToolInfo,
    TrustSource,
    Verdict,
    WatermarkFinding,
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TOOL = ToolInfo(
    version="0.1.0",
    c2pa_sdk="0.91.3",
    trust_sources=(TrustSource("C2PA trust list", "/data/c2pa.pem", "ab" * 32, 42, "2026-09-01"),),
    analyzed_at="2026-11-21T10:00:00Z",
)


def _pictures(directory: Path, count: int) -> list[Path]:
    import skimage.data  # a dev dependency, only to make the sample photographs

    sources = [
        skimage.data.astronaut(),
        skimage.data.coffee(),
        skimage.data.chelsea(),
        skimage.data.rocket(),
        np.repeat(skimage.data.camera()[..., None], 3, axis=2),
    ]
    out: list[Path] = []
    for i in range(count):
        base = Image.fromarray(sources[i % len(sources)])
        big = base.resize((1920, round(1920 * base.height / base.width)), Image.Resampling.BICUBIC)
        shifted = np.roll(np.asarray(big), shift=(i * 37) % 400, axis=1)
        path = directory / f"photo-{i:04d}.jpg"
        Image.fromarray(shifted).save(path, "JPEG", quality=90)
        out.append(path)
    return out


def _node(title: str, *, relationship: str | None = None, bad: bool = False) -> ChainNode:
    failures = (
        (Failure("claimSignature.mismatch", "altered", origin="ingredient_record"),) if bad else ()
    )
    return ChainNode(
        label=f"urn:c2pa:{abs(hash(title)) % 10**12:012d}",
        title=title,
        format="image/jpeg",
        issuer=Issuer("Example News Agency", "Photo desk signer", "Example News CA", "0x1f"),
        signing_time="2026-03-02T08:11:09Z",
        signing_time_source="timestamp",
        claim_generator="Example Camera",
        claim_generator_version="4.2",
        actions=(
            Action("c2pa.created", "Created", digital_source_type=IPTC + "digitalCapture"),
            Action("c2pa.color_adjustments", "Color adjustments", software_agent="Editor 9"),
        ),
        relationship=relationship,
        failures=failures,
        trusted=True,
    )


def _report(i: int, path: Path) -> Report:
    kind = i % 7
    subject = Subject(str(path), path.stat().st_size, f"{i:064x}", "image/jpeg", 1920, 1280)
    chain = dataclasses.replace(
        _node(path.name),
        ingredients=(_node(f"capture-{i}.jpg", relationship="parentOf", bad=kind == 1),),
    )
    signal = AiSignal(
        "c2pa.digitalSourceType",
        "digitalCapture",
        "active manifest",
        True,
        "strong",
        AiLabel.CAPTURED,
    )
    verdict = [
        Verdict.TRUSTED,
        Verdict.TRUSTED,
        Verdict.INCOMPLETE,
        Verdict.INVALID,
        Verdict.NO_CREDENTIALS,
        Verdict.RECOVERED,
        Verdict.ERROR,
    ][kind]
    failures: tuple[Failure, ...] = ()
    if verdict is Verdict.INCOMPLETE:
        failures = (Failure("assertion.dataHash.mismatch", "changed"),)
    elif verdict is Verdict.INVALID:
        failures = (Failure("claimSignature.mismatch", "forged"),)
    report = Report(
        subject=subject,
        verdict=verdict,
        summary=(
            "Content Credentials are intact and were issued by a signer on a trust list.",
            "Issued by Example News Agency (Photo desk signer), certificate from Example News CA.",
            "Made with Example Camera 4.2.",
        ),
        chain=None if verdict in (Verdict.NO_CREDENTIALS, Verdict.ERROR) else chain,
        failures=failures,
        ai=AiAssessment(AiLabel.CAPTURED, (signal,)),
        tool=TOOL,
    )
    if verdict is Verdict.RECOVERED:
        report = dataclasses.replace(
            report,
            watermarks=(WatermarkFinding("org.jinjja.watermark.1", True, "60cb551f", 11.6, 3e-28),),
            matches=(BankMatch("KR_CASE_2024", str(i), 6, "MATCH", "identity"),),
            metadata=(MetadataFact("exif.software", "Edited with Photoshop 25.0"),),
            recovery=Recovery("watermark", "60cb551f3fcdf80b", "/data/repository.db"),
        )
    if verdict is Verdict.ERROR:
        report = dataclasses.replace(
            report, error=ReportError("corrupt", "the file is truncated"), summary=()
        )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--pictures", type=int, default=100)
    parser.add_argument("--modes", default="full,blur,none")
    args = parser.parse_args()
    results: dict[str, object] = {
        "records": args.records,
        "pictures": args.pictures,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        pics = _pictures(Path(tmp), args.pictures)
        reports = [_report(i, pics[i % len(pics)]) for i in range(args.records)]
        for mode in args.modes.split(","):
            page = Path(tmp) / f"report-{mode}.html"
            cpu0, wall0 = time.process_time(), time.perf_counter()
            with page.open("w", encoding="utf-8") as out:
                render_check_report(
                    reports,
                    out,
                    lang=Lang.EN,
                    thumbnails=Thumbnails(mode),
                    generated_at="2026-11-21T10:00:00Z",
                )
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            size = page.stat().st_size
            run = {
                "thumbnails": mode,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "records_per_s": round(args.records / wall, 1),
                "html_mb": round(size / 1e6, 2),
                "bytes_per_record": size // args.records,
            }
            results["runs"].append(run)  # type: ignore[attr-defined]
            print(
                f"{args.records} records, thumbnails {mode}: {wall:.2f} s wall, {cpu:.2f} s CPU, "
                f"{size / 1e6:.1f} MB ({size // args.records} B/record)",
                flush=True,
            )
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results["peak_rss_mb"] = round(peak_kb / 1024, 1)
    print(f"peak resident memory {peak_kb / 1024:.0f} MB")
    out_dir = ROOT / "bench-out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "render_report.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
