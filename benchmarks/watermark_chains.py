"""Held-out chains of edits: exact recovery of ``watermark`` on chains the README table does
not use, for both embedder profiles.

Usage (from the repository root, ``JINJJA_SHARED`` pointing at the shared data)::

    python benchmarks/watermark_chains.py [--first 8] [--count 32] [--sets 512,1080]

``attacks.random_chain(seed)`` for seeds ``first .. first + count - 1`` (the table of
``watermark_bench.py`` uses seeds 0-7), applied to every shared photograph marked with a
64-bit payload at 40 dB. Writes ``bench-out/watermark-chains.json`` and ``.md`` with the
share recovered exactly per profile and set, and every failure (chain, size, score).
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first", type=int, default=attacks.CHAINS)
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--sets", default="512,1080")
    args = ap.parse_args()
    shared = Path(os.environ.get("JINJJA_SHARED", "/work/shared"))
    seeds = range(args.first, args.first + args.count)
    rows = []
    for set_name in args.sets.split(","):
        for profile in ("robust", "subtle"):
            row = run_set(shared, set_name, profile, seeds)
            rows.append(row)
            print(f"{set_name} {profile}: {row['exact']:.3f} of {row['trials']}", flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "watermark-chains.json").write_text(json.dumps(rows, indent=1))
    lines = [
        f"# Held-out chains (seeds {seeds.start}-{seeds.stop - 1})",
        "",
        "| set | profile | trials | exact recovery |",
        "|---|---|---|---|",
        *(f"| {r['set']} | {r['profile']} | {r['trials']} | {r['exact']:.3f} |" for r in rows),
        "",
        "Failures:",
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
