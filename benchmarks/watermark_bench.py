"""Robustness, quality and speed of ``watermark`` side by side with the peers.

Usage (from the repository root, ``JINJJA_SHARED`` pointing at the shared data)::

    python benchmarks/watermark_bench.py run --methods ours,dwtDct,dwtDctSvd,blind --sets 512,1080
    python benchmarks/watermark_bench.py run --methods rivaGan --sets 512 --limit 6 --tag riva
    python benchmarks/watermark_null.py --trials 10000
    python benchmarks/watermark_bench.py report      # -> bench-out/watermark.json + .md

Protocol: for every image a payload seeded by the image name (64 bits; 32 for RivaGAN) is
embedded, the marked image goes through every attack of ``attacks.py`` (the classic single
edits, rotations to +-10 degrees with crop-to-fill, pictures downscaled to 256 px and seeded
chains of 2-4 social-media edits) and is decoded. The report adds a table per attack family
(``attacks.FAMILIES``).
Metrics: exact payload recovery, bit accuracy (0.5 per bit when nothing is decoded), PSNR
(RGB), SSIM (luma, Gaussian window sigma 1.5), embed and detect seconds per megapixel
(``time.perf_counter``, one process), and for ``ours`` the native detection rate
(``Detection.found``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import attacks  # noqa: E402
import watermark_peers  # noqa: E402

import watermark  # noqa: E402

OUT = Path("bench-out")
KEY = b"jinjja-benchmark-key"


def _ours(profile: str = "robust", name: str = "ours") -> watermark_peers.Peer:
    def embed(img: np.ndarray, bits: np.ndarray) -> np.ndarray:
        payload = np.packbits(bits).tobytes()
        return np.asarray(watermark.embed(img, payload, KEY, profile=profile))

    def decode(img: np.ndarray) -> np.ndarray | None:
        res = watermark.detect(img, KEY)
        _last["found"] = res.found
        if res.payload is None or len(res.payload) != 8:
            return None
        return np.unpackbits(np.frombuffer(res.payload, dtype=np.uint8))

    return watermark_peers.Peer(name, 64, embed, decode)


_last: dict[str, Any] = {}


def method(name: str) -> watermark_peers.Peer:
    if name == "ours":
        return _ours()
    if name == "oursSubtle":
        return _ours("subtle", "oursSubtle")
    if name == "dwtDct":
        return watermark_peers.imwm("dwtDct")
    if name == "dwtDct_40dB":
        return watermark_peers.imwm("dwtDct", [0, 24, 24], "imwm_dwtDct_40dB")
    if name == "dwtDctSvd":
        return watermark_peers.imwm("dwtDctSvd")
    if name == "dwtDctSvd_40dB":
        return watermark_peers.imwm("dwtDctSvd", [0, 24, 0], "imwm_dwtDctSvd_40dB")
    if name == "rivaGan":
        return watermark_peers.riva()
    if name == "blind":
        return watermark_peers.blind()
    if name == "blind_40dB":
        return watermark_peers.blind(24, 13, "blind_wm_40dB")
    raise SystemExit(f"unknown method {name}")


def _luma(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def quality(orig: np.ndarray, marked: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    mse = float(np.mean((orig.astype(np.float64) - marked.astype(np.float64)) ** 2))
    psnr = 10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf")
    ssim = structural_similarity(
        _luma(orig),
        _luma(marked),
        data_range=255.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    return float(psnr), float(ssim)


def images(shared: Path, set_name: str, limit: int | None) -> list[tuple[str, np.ndarray]]:
    files = sorted((shared / "images" / set_name).glob("*.png"))[:limit]
    return [(f.stem, np.asarray(Image.open(f).convert("RGB"))) for f in files]


def run(args: argparse.Namespace) -> None:
    shared = Path(os.environ.get("JINJJA_SHARED", "/work/shared"))
    OUT.mkdir(exist_ok=True)
    records: list[dict[str, Any]] = []
    path = OUT / f"watermark-records-{args.tag}.json"
    for set_name in args.sets.split(","):
        imgs = images(shared, set_name, args.limit)
        for mname in args.methods.split(","):
            peer = method(mname)
            for name, img in imgs:
                seed = hashlib.sha256(f"{name}/{peer.nbits}".encode()).digest()
                bits = np.unpackbits(np.frombuffer(seed, dtype=np.uint8))[: peer.nbits]
                mp = img.shape[0] * img.shape[1] / 1e6
                t0 = time.perf_counter()
                marked = peer.embed(img, bits)
                t_embed = (time.perf_counter() - t0) / mp
                psnr, ssim = quality(img, marked)
                for att in attacks.ATTACKS:
                    x = attacks.apply(att, marked)
                    t0 = time.perf_counter()
                    got = peer.decode(x)
                    t_detect = (time.perf_counter() - t0) / (x.shape[0] * x.shape[1] / 1e6)
                    acc = (
                        0.5 if got is None or got.size != bits.size else float(np.mean(got == bits))
                    )
                    rec = {
                        "method": peer.name,
                        "set": set_name,
                        "image": name,
                        "attack": att,
                        "bits": peer.nbits,
                        "psnr": psnr,
                        "ssim": ssim,
                        "embed_s_per_mp": t_embed,
                        "detect_s_per_mp": t_detect,
                        "bit_acc": acc,
                        "exact": acc == 1.0,
                    }
                    if peer.name.startswith("ours"):
                        rec["found"] = bool(_last.get("found"))
                    records.append(rec)
                path.write_text(json.dumps(records))  # after every image: partial runs count
                print(
                    f"{peer.name} {set_name} {name}: psnr {psnr:.2f} ssim {ssim:.4f} "
                    f"exact {np.mean([r['exact'] for r in records[-len(attacks.ATTACKS) :]]):.2f}",
                    flush=True,
                )
    path = OUT / f"watermark-records-{args.tag}.json"
    path.write_text(json.dumps(records))
    print(f"wrote {path}")


def _fmt(v: float) -> str:
    return f"{v:.2f}"


def family_table(set_name: str, cols: list[str], table: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown: exact recovery averaged per attack family (``attacks.FAMILIES``), then the
    minimum per family, PSNR and SSIM per method."""
    md = [
        f"## Set {set_name}: exact payload recovery per attack family (mean, worst attack)",
        "",
        "| family (attacks) | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for fam, members in attacks.FAMILIES.items():
        cells = []
        for m in cols:
            vals = [table[m]["exact"][a] for a in members]
            cells.append(f"{np.mean(vals):.3f} ({min(vals):.2f})")
        md.append(f"| {fam} ({len(members)}) | " + " | ".join(cells) + " |")
    md.append(
        "| PSNR dB mean (min) | "
        + " | ".join(f"{table[m]['psnr_mean']:.2f} ({table[m]['psnr_min']:.2f})" for m in cols)
        + " |"
    )
    md.append(
        "| SSIM mean (min) | "
        + " | ".join(f"{table[m]['ssim_mean']:.4f} ({table[m]['ssim_min']:.4f})" for m in cols)
        + " |"
    )
    md.append("")
    return md


def report(args: argparse.Namespace) -> None:
    from watermark import _detect

    seen: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for p in sorted(OUT.glob("watermark-records-*.json")):
        for r in json.loads(p.read_text()):
            seen[(r["method"], r["set"], r["image"], r["attack"])] = r
    records = list(seen.values())
    null: dict[str, Any] | None = None
    for part in sorted(OUT.glob("watermark-null-*.json")):
        d = json.loads(part.read_text())
        if null is None:
            null = {"threshold": _detect.threshold(), "image_size": d["image_size"], "parts": 0}
        null["parts"] += 1
        for label in ("unmarked", "wrong_key"):
            for k, fn in (("trials", sum), ("claims", sum), ("max_score", max)):
                key = f"{label}_{k}"
                null[key] = fn([null.get(key, 0), d[key]])
    methods = list(dict.fromkeys(r["method"] for r in records))
    sets = list(dict.fromkeys(r["set"] for r in records))
    atts = list(attacks.ATTACKS)
    summary: dict[str, Any] = {"key": KEY.decode(), "attacks": atts, "results": {}, "null": null}
    md = ["# Watermark benchmark", ""]
    for s in sets:
        md += [f"## Set {s}: exact payload recovery per attack", ""]
        cols = [m for m in methods if any(r["method"] == m and r["set"] == s for r in records)]
        md.append("| attack | " + " | ".join(cols) + " |")
        md.append("|---|" + "---|" * len(cols))
        table: dict[str, dict[str, Any]] = {}
        for m in cols:
            rs = [r for r in records if r["method"] == m and r["set"] == s]
            per = {a: float(np.mean([r["exact"] for r in rs if r["attack"] == a])) for a in atts}
            bit = {a: float(np.mean([r["bit_acc"] for r in rs if r["attack"] == a])) for a in atts}
            img_rows = [r for r in rs if r["attack"] == "none"]
            entry = {
                "images": len(img_rows),
                "bits": rs[0]["bits"],
                "exact": per,
                "bit_acc": bit,
                "mean_exact": float(np.mean([per[a] for a in atts if a != "none"])),
                "mean_bit_acc": float(np.mean([bit[a] for a in atts if a != "none"])),
                "psnr_mean": float(np.mean([r["psnr"] for r in img_rows])),
                "psnr_min": float(np.min([r["psnr"] for r in img_rows])),
                "ssim_mean": float(np.mean([r["ssim"] for r in img_rows])),
                "ssim_min": float(np.min([r["ssim"] for r in img_rows])),
                "embed_s_per_mp": float(np.median([r["embed_s_per_mp"] for r in img_rows])),
                "detect_s_per_mp_median": float(np.median([r["detect_s_per_mp"] for r in rs])),
                "detect_s_per_mp_max": float(np.max([r["detect_s_per_mp"] for r in rs])),
            }
            if m == "ours":
                entry["found"] = {
                    a: float(np.mean([r["found"] for r in rs if r["attack"] == a])) for a in atts
                }
            table[m] = entry
        summary["results"][s] = table
        md += family_table(s, cols, table)
        for a in atts:
            md.append(f"| {a} | " + " | ".join(_fmt(table[m]["exact"][a]) for m in cols) + " |")
        md.append(
            "| **mean (excl. none)** | "
            + " | ".join(f"**{table[m]['mean_exact']:.3f}**" for m in cols)
            + " |"
        )
        md += [
            "",
            f"### Set {s}: quality and speed",
            "",
            "| method | images | bits | PSNR mean (min) | SSIM mean (min) | mean bit acc "
            "| embed s/MP | detect s/MP median (max) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for m in cols:
            e = table[m]
            md.append(
                f"| {m} | {e['images']} | {e['bits']} | {e['psnr_mean']:.2f} ({e['psnr_min']:.2f})"
                f" | {e['ssim_mean']:.4f} ({e['ssim_min']:.4f}) | {e['mean_bit_acc']:.3f}"
                f" | {e['embed_s_per_mp']:.3f} | {e['detect_s_per_mp_median']:.3f}"
                f" ({e['detect_s_per_mp_max']:.3f}) |"
            )
        md.append("")
    if null:
        md += [
            "## False alarms (ours)",
            "",
            f"{null['unmarked_trials']} (unmarked 256x256 image, random key) trials: "
            f"{null['unmarked_claims']} claims, max score {null['unmarked_max_score']:.2f}; "
            f"{null['wrong_key_trials']} wrong-key trials on marked images: "
            f"{null['wrong_key_claims']} claims, max score {null['wrong_key_max_score']:.2f} "
            f"(threshold {null['threshold']:.2f}, with a valid CRC "
            f"{_detect.crc_threshold():.2f}; bound 1e-6 per image).",
            "",
        ]
    timing_path = OUT / "watermark-timing.json"
    if timing_path.exists():
        timing = json.loads(timing_path.read_text())
        summary["timing"] = timing
        md += [
            "## Speed of ours (best of 3 per image, s/MP, median (max) over 4 images)",
            "",
            "| set | embed | detect marked | detect after rot5 | detect unmarked (worst case) |",
            "|---|---|---|---|---|",
        ]
        for set_name, t in timing.items():
            cells = [
                f"{t[k + '_median']:.3f} ({t[k + '_max']:.3f})"
                for k in ("embed", "detect_marked", "detect_rot5", "detect_unmarked")
            ]
            md.append(f"| {set_name} | " + " | ".join(cells) + " |")
        md.append("")
    md.append(
        "Timing: one process, `time.perf_counter`, on a 2-core machine shared with other jobs; "
        "treat s/MP as upper bounds."
    )
    (OUT / "watermark.json").write_text(json.dumps(summary, indent=1))
    (OUT / "watermark.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--methods", default="ours,dwtDct,dwtDctSvd,blind")
    r.add_argument("--sets", default="512,1080")
    r.add_argument("--limit", type=int, default=None)
    r.add_argument("--tag", default="main")
    sub.add_parser("report")
    args = ap.parse_args()
    run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    main()
