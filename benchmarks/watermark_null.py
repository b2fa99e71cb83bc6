"""False-alarm trials for ``watermark.detect`` (writes ``bench-out/watermark-null.json``).

* unmarked trials: 256 x 256 crops of the shared photos (and of their 0.5x downscales) with
  a fresh random key per trial;
* wrong-key trials: the same crops marked under one key, searched with a fresh random key.

A claim is ``Detection.found``; the bound says the expected number of claims over N trials is
at most N * 1e-6.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import watermark  # noqa: E402
from watermark import _detect  # noqa: E402


def crops(shared: Path) -> list[np.ndarray]:
    out = []
    for f in sorted((shared / "images" / "512").glob("*.png")):
        im = Image.open(f).convert("RGB")
        for src in (im, im.resize((256, 256), Image.Resampling.BICUBIC)):
            a = np.asarray(src)
            for y in range(0, a.shape[0] - 255, 256):
                for x in range(0, a.shape[1] - 255, 256):
                    out.append(np.ascontiguousarray(a[y : y + 256, x : x + 256]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--part", type=int, default=0, help="run several parts in parallel")
    args = ap.parse_args()
    shared = Path(os.environ.get("JINJJA_SHARED", "/work/shared"))
    rng = np.random.default_rng([20261121, args.part])
    base = crops(shared)
    marked = [watermark.embed(a, b"\x5a" * 8, b"the-publisher-key") for a in base]
    res: dict[str, object] = {"threshold": _detect.threshold(), "image_size": "256x256"}
    counts = {"unmarked": [0, 0, 0.0], "wrong_key": [0, 0, 0.0]}  # trials, claims, max score
    out = Path(f"bench-out/watermark-null-{args.part}.json")
    out.parent.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    for i in range(args.trials):
        for label, pool in (("unmarked", base), ("wrong_key", marked)):
            d = watermark.detect(pool[(i + 37 * args.part) % len(pool)], rng.bytes(16))
            c = counts[label]
            c[0] += 1
            c[1] += int(d.found)
            c[2] = max(c[2], d.score)
        if i % 250 == 249 or i == args.trials - 1:
            for label, (n, claims, zmax) in counts.items():
                res[f"{label}_trials"] = n
                res[f"{label}_claims"] = claims
                res[f"{label}_max_score"] = zmax
            res["seconds"] = time.perf_counter() - t0
            out.write_text(json.dumps(res, indent=1))
            print(res, flush=True)


if __name__ == "__main__":
    main()
