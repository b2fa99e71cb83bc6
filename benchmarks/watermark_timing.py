"""Seconds per megapixel of ``watermark.embed`` / ``watermark.detect`` on one core.

Best of ``--repeat`` runs per image (``time.perf_counter``), so that other jobs on a shared
machine inflate the numbers as little as possible. ``detect`` is timed on the marked image
(fast path), on a 5-degree rotation (full resynchronisation) and on the unmarked image
(the worst case: every hypothesis is tried), and on two damaged copies that need the full
search and the 256-path list (256 px + JPEG 80, and the benchmark's ``chain1``; seconds per
megapixel of the damaged copy). ``python benchmarks/watermark_timing.py [REPEAT [TAG]]`` writes
``bench-out/watermark-timing{TAG}.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import attacks  # noqa: E402

import watermark  # noqa: E402

KEY = b"timing"


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    shared = Path(os.environ.get("JINJJA_SHARED", "/work/shared"))
    out: dict[str, dict[str, float]] = {}
    for set_name in ("512", "1080"):
        rows: dict[str, list[float]] = {"embed": [], "detect_marked": [], "detect_rot5": []}
        rows["detect_unmarked"] = []
        rows["detect_small256+jpeg80"] = []
        rows["detect_chain1"] = []
        for f in sorted((shared / "images" / set_name).glob("*.png"))[:4]:
            img = np.asarray(Image.open(f).convert("RGB"))
            mp = img.shape[0] * img.shape[1] / 1e6
            marked = np.asarray(watermark.embed(img, b"t", KEY))
            rot = attacks.apply("rot5", marked)
            rows["embed"].append(
                best_of(lambda img=img: watermark.embed(img, b"t", KEY), repeat) / mp
            )
            damaged = {a: attacks.apply(a, marked) for a in ("small256+jpeg80", "chain1")}
            cases = [("detect_marked", marked), ("detect_rot5", rot)]
            cases += [(f"detect_{a}", x) for a, x in damaged.items()]
            for name, x in cases:
                mp = x.shape[0] * x.shape[1] / 1e6  # per megapixel of the picture searched
                rows[name].append(best_of(lambda x=x: watermark.detect(x, KEY), repeat) / mp)
            mp = img.shape[0] * img.shape[1] / 1e6
            rows["detect_unmarked"].append(
                best_of(lambda img=img: watermark.detect(img, KEY), repeat) / mp
            )
        out[set_name] = {
            **{f"{k}_median": float(np.median(v)) for k, v in rows.items()},
            **{f"{k}_max": float(np.max(v)) for k, v in rows.items()},
        }
        print(set_name, {k: round(v, 3) for k, v in out[set_name].items()}, flush=True)
    Path("bench-out").mkdir(exist_ok=True)
    tag = sys.argv[2] if len(sys.argv) > 2 else ""
    Path(f"bench-out/watermark-timing{tag}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
