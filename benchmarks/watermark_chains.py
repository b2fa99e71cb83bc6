"""Held-out chains of edits: exact recovery of ``watermark`` on chains the README table does
not use, for both embedder profiles.

Usage (from the repository root, ``JINJJA_SHARED`` pointing at the shared data)::

    python benchmarks/watermark_chains.py [--first 8] [--count 32] [--sets 512,1080]
        [--sizes 600,724,1000,1440,2160]

``attacks.random_chain(seed)`` for seeds ``first .. first + count - 1`` (the table of
``watermark_bench.py`` uses seeds 0-7), applied to every shared photograph marked with a
64-bit payload at 40 dB. Writes ``bench-out/watermark-chains.json`` and ``.md`` with the
share recovered exactly per profile and set, and every failure (chain, size, score).

``--sizes``: the 1080p photographs resized (Lanczos) so that their shorter side is each of
these sizes before marking (the cell size and analysis factor change with the size: 724 and
1448 px are the worst cases, where a copy at 256 px shows cells of 0.7 px), then shrunk to
256 px, to 256 px + JPEG 80, to 320 px + WebP 75, and put through the table's 8 chains.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import attacks  # noqa: E402

import watermark  # noqa: E402

KEY = b"jinjja-benchmark-key"
OUT = Path("bench-out")


def run_set(shared: Path, set_name: str, profile: str, seeds: range) -> dict[str, Any]:
    ok, fails = 0, []
    files = sorted((shared / "images" / set_name).glob("*.png"))
    chains = [attacks.random_chain(s) for s in seeds]
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        digest = hashlib.sha256(f"{f.stem}/64".encode()).digest()
        payload = digest[:8]
        marked = np.asarray(watermark.embed(img, payload, KEY, profile=profile))
        for seed, (label, attack) in zip(seeds, chains, strict=True):
            x = attack(marked)
            res = watermark.detect(x, KEY)
            if res.payload == payload:
                ok += 1
            else:
                fails.append(
                    {
                        "image": f.stem,
                        "seed": seed,
                        "chain": label,
                        "size": list(x.shape[:2]),
                        "score": round(res.score, 2),
                        "found": res.found,
                    }
                )
    n = len(files) * len(chains)
    return {"set": set_name, "profile": profile, "trials": n, "exact": ok / n, "failures": fails}


def run_sizes(shared: Path, sizes: list[int], profile: str) -> list[dict[str, Any]]:
    small = {
        "small256": attacks.downscale_to(256),
        "small256+jpeg80": attacks.chain(attacks.downscale_to(256), attacks.jpeg(80)),
        "small320+webp75": attacks.chain(attacks.downscale_to(320), attacks.webp(75)),
        **{f"chain{i}": attacks.random_chain(i)[1] for i in range(attacks.CHAINS)},
    }
    rows = []
    files = sorted((shared / "images" / "1080").glob("*.png"))
    for short in sizes:
        ok, lowest = 0, float("inf")
        for f in files:
            with Image.open(f) as im:
                rgb = im.convert("RGB")
            s = short / min(rgb.size)
            size = (round(rgb.size[0] * s), round(rgb.size[1] * s))
            img = np.asarray(rgb.resize(size, Image.Resampling.LANCZOS))
            payload = hashlib.sha256(f"{f.stem}/{short}".encode()).digest()[:8]
            marked = np.asarray(watermark.embed(img, payload, KEY, profile=profile))
            for attack in small.values():
                res = watermark.detect(attack(marked), KEY)
                ok += res.payload == payload
                lowest = min(lowest, res.score)
        n = len(files) * len(small)
        rows.append({"short": short, "profile": profile, "trials": n, "exact": ok / n,
                     "lowest_score": round(lowest, 2)})  # fmt: skip
        print(f"{short} px {profile}: {ok / n:.3f} of {n}, lowest score {lowest:.2f}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first", type=int, default=attacks.CHAINS)
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--sets", default="512,1080")
    ap.add_argument("--sizes", default="600,724,1000,1440,2160")
    args = ap.parse_args()
    shared = Path(os.environ.get("JINJJA_SHARED", "/work/shared"))
    seeds = range(args.first, args.first + args.count)
    rows = []
    for set_name in args.sets.split(","):
        for profile in ("robust", "subtle"):
            row = run_set(shared, set_name, profile, seeds)
            rows.append(row)
            print(f"{set_name} {profile}: {row['exact']:.3f} of {row['trials']}", flush=True)
    sizes = [int(v) for v in args.sizes.split(",") if v]
    size_rows = [r for p in ("robust", "subtle") for r in run_sizes(shared, sizes, p)]
    OUT.mkdir(exist_ok=True)
    (OUT / "watermark-chains.json").write_text(
        json.dumps({"chains": rows, "sizes": size_rows}, indent=1)
    )
    lines = [
        f"# Held-out chains (seeds {seeds.start}-{seeds.stop - 1})",
        "",
        "| set | profile | trials | exact recovery |",
        "|---|---|---|---|",
        *(f"| {r['set']} | {r['profile']} | {r['trials']} | {r['exact']:.3f} |" for r in rows),
        "",
        "Originals of other sizes (1080p photographs resized before marking), shrunk to 256 px,",
        "256 px + JPEG 80, 320 px + WebP 75 and the 8 chains of the table:",
        "",
        "| shorter side | profile | trials | exact recovery | lowest score |",
        "|---|---|---|---|---|",
        *(
            f"| {r['short']} | {r['profile']} | {r['trials']} | {r['exact']:.3f} | "
            f"{r['lowest_score']} |"
            for r in size_rows
        ),
        "",
        "Failures of the held-out chains:",
        "",
        *(
            f"- {r['set']} {r['profile']} {f['image']} seed {f['seed']} `{f['chain']}` "
            f"{f['size'][1]}x{f['size'][0]} score {f['score']}"
            for r in rows
            for f in r["failures"]
        ),
    ]
    (OUT / "watermark-chains.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT / 'watermark-chains.md'}")


if __name__ == "__main__":
    main()
