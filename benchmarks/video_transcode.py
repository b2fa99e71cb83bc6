"""Video watermark at transcode speed: embed vs a plain x264 transcode, and survival.

Usage (from the repository root, ``JINJJA_SHARED`` pointing at the shared data)::

    python benchmarks/video_transcode.py            # -> bench-out/video-transcode.json + .md

One run measures, on 10 s 30 fps clips made from ``$JINJJA_SHARED/images/1080`` (a smooth
noise-free pan, a static scene and the pan with sensor noise of sigma 3 new in every frame,
at 1080p and at 720p), with the v2 video mark (``spec/watermark-video.md``):

* speed: three paired rounds of a plain transcode (decode, ``libx264`` preset ``medium``,
  CRF 23, the settings of a plain ``ffmpeg -c:v libx264``, audio copied) and of
  :func:`provenance.media.video.embed_video` with its defaults (the same codec, preset and
  CRF), both with every core the machine has (2 here); frames per second of each, their
  ratio and the output sizes;
* survival: the marked 1080p file re-encoded at CRF 28, downscaled to 720p (CRF 23),
  centre-cropped to 90 % of the area (CRF 23) and converted to 25 fps (CRF 23), then read
  in 2 s segments that start anywhere (offsets 0.0, 0.7, 1.9, 3.3, 5.1 and 7.4 s, not
  aligned to key frames) with ``detect_video(segment=...)``; plus the unmarked source.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import video_watermark  # noqa: E402
from video_clips import make_clip, moving_frames  # noqa: E402
from video_watermark import attack  # noqa: E402

from provenance.media.video import detect_video, embed_video  # noqa: E402

OUT = Path("bench-out")
KEY = "jinjja-video-transcode-benchmark"
PAYLOAD = b"PUBLISH1"
CRF, PRESET = 23, "medium"
OFFSETS = (0.0, 0.7, 1.9, 3.3, 5.1, 7.4)
ATTACKS: dict[str, dict[str, Any]] = {
    "none": {},
    "crf28": {"crf": 28},
    "720p": {"height": 720, "crf": 23},
    "crop90": {"crop": 0.90, "crf": 23},
    "25fps": {"fps": 25, "crf": 23},
}


def plain_transcode(src: Path, dst: Path) -> int:
    """Decode and re-encode with libx264 (preset medium, CRF 23), audio copied."""
    return video_watermark.plain_transcode(src, dst, crf=CRF, preset=PRESET)


def speed(src: Path, work: Path, rounds: int) -> dict[str, Any]:
    plain, embed = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        n = plain_transcode(src, work / "plain.mp4")
        plain.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        embed_video(src, work / "marked.mp4", PAYLOAD, KEY)
        embed.append(n / (time.perf_counter() - t))
    ratios = [e / p for e, p in zip(embed, plain, strict=True)]
    return {
        "plain_fps": float(np.median(plain)),
        "embed_fps": float(np.median(embed)),
        "ratio_median": float(np.median(ratios)),
        "ratios": ratios,
        "added_time": float(np.median([1 / r - 1 for r in ratios])),
        "bytes_plain": (work / "plain.mp4").stat().st_size,
        "bytes_marked": (work / "marked.mp4").stat().st_size,
    }


def survival(marked: Path, src: Path, work: Path, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    offsets = [t for t in OFFSETS if t + 2.0 <= seconds - 0.2]
    for name, kw in ATTACKS.items():
        path = marked if name == "none" else attack(marked, work / f"{name}.mp4", **kw)
        whole = detect_video(path, KEY)
        segs = [detect_video(path, KEY, segment=(t, t + 2.0)) for t in offsets]
        out[name] = {
            "whole_exact": whole.payload == PAYLOAD,
            "whole_score": whole.score,
            "segments_exact": [s.payload == PAYLOAD for s in segs],
            "segment_scores": [s.score for s in segs],
        }
        print(
            f"  {name:7s} whole {'OK' if whole.payload == PAYLOAD else '--'} "
            f"z={whole.score:5.1f} segments {sum(out[name]['segments_exact'])}/{len(segs)} "
            f"min z {min(s.score for s in segs):.1f}",
            flush=True,
        )
    null = [detect_video(src, KEY, segment=(t, t + 2.0)) for t in offsets]
    out["unmarked"] = {"found": sum(d.found for d in null), "segments": len(null)}
    return out


CLIPS = (("pan", "pan", 0.0), ("static", "static", 0.0), ("noisy pan", "pan", 3.0))
"""(name, motion, sensor noise sigma) of the clips."""


def clip(
    work: Path, image: Path, motion: str, height: int, seconds: float, noise: float = 0.0
) -> Path:
    arr = np.asarray(Image.open(image).convert("RGB"))
    width = 2 * round(height * 16 / 9 / 2)
    frames = moving_frames(arr, width, height, round(30 * seconds), motion=motion, noise=noise)
    name = f"{motion}-{noise:g}-{height}.mp4"
    return make_clip(work / name, frames, crf=16, preset="veryfast")


def markdown(res: dict[str, Any]) -> str:
    md = [
        "# Video watermark at transcode speed",
        "",
        f"x264 preset {PRESET}, CRF {CRF} for both; {os.cpu_count()} cores; fps = frames / wall "
        "time, median of the paired rounds; video mark v2 (moves with the content).",
        "",
        "| clip | plain transcode fps | embed fps | embed ÷ plain | time added | "
        "MB plain / marked |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in res["clips"].items():
        s = r["speed"]
        md.append(
            f"| {name} | {s['plain_fps']:.1f} | {s['embed_fps']:.1f} | {s['ratio_median']:.2f} "
            f"| {100 * s['added_time']:.0f} % | {s['bytes_plain'] / 1e6:.1f} / "
            f"{s['bytes_marked'] / 1e6:.1f} |"
        )
    md += [
        "",
        "Survival (1080p clips): whole file / 2 s segments at arbitrary offsets read exactly "
        "(lowest segment score)",
        "",
    ]
    md.append("| clip | " + " | ".join(ATTACKS) + " | unmarked segments found |")
    md.append("|---|" + "---|" * (len(ATTACKS) + 1))
    for name, r in res["clips"].items():
        if "survival" not in r:
            continue
        sv = r["survival"]
        cells = [
            f"{'✓' if sv[a]['whole_exact'] else '✗'} / {sum(sv[a]['segments_exact'])} of "
            f"{len(sv[a]['segments_exact'])} (z ≥ {min(sv[a]['segment_scores']):.1f})"
            for a in ATTACKS
        ]
        un = sv["unmarked"]
        md.append(f"| {name} | " + " | ".join(cells) + f" | {un['found']} of {un['segments']} |")
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--image", default="bus.png")
    args = ap.parse_args()
    shared = Path(os.environ.get("JINJJA_SHARED", "/work/shared"))
    image = shared / "images" / "1080" / args.image
    OUT.mkdir(exist_ok=True)
    res: dict[str, Any] = {"crf": CRF, "preset": PRESET, "cores": os.cpu_count(), "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, motion, noise in CLIPS:
            for height in (1080, 720):
                name = f"{height}p {label}"
                src = clip(work, image, motion, height, args.seconds, noise)
                print(f"[{name}]", flush=True)
                rec: dict[str, Any] = {"speed": speed(src, work, args.rounds)}
                s = rec["speed"]
                print(
                    f"  plain {s['plain_fps']:.1f} fps, embed {s['embed_fps']:.1f} fps, "
                    f"ratio {s['ratio_median']:.2f}",
                    flush=True,
                )
                if height == 1080:
                    rec["survival"] = survival(work / "marked.mp4", src, work, args.seconds)
                res["clips"][name] = rec
                (OUT / "video-transcode.json").write_text(json.dumps(res, indent=1))
    (OUT / "video-transcode.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
