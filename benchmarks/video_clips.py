"""Synthetic test clips and video attacks (PyAV), shared by the video benchmark and tests.

Clips are made from still pictures with camera-like motion: a slow pan across an enlarged
copy, or a slow zoom in, with an optional AAC or PCM audio track (a chord) and an optional
display rotation. Attacks re-encode a clip with PyAV: scaling, cropping, frame-rate change,
another codec or CRF.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image

__all__ = ["audio_packets", "make_clip", "moving_frames", "transcode"]


def moving_frames(
    image: NDArray[np.uint8],
    width: int,
    height: int,
    n: int,
    *,
    motion: str = "pan",
    noise: float = 0.0,
    seed: int = 0,
) -> Iterator[NDArray[np.uint8]]:
    """``n`` RGB frames of ``width x height`` showing ``image`` with camera-like motion.

    ``motion`` is ``pan`` (left to right and a little down, on a 1.25x enlargement), ``zoom``
    (from the whole picture to 80 % of it, centred) or ``static``. ``noise`` adds Gaussian
    sensor noise of that standard deviation (grey levels), different in every frame.
    """
    rng = np.random.default_rng(seed)
    src = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    if motion == "pan":
        big = src.resize((round(width * 1.25), round(height * 1.25)), Image.Resampling.BICUBIC)
        arr = np.asarray(big)
        span_x, span_y = big.width - width, big.height - height
    for i in range(n):
        t = i / max(n - 1, 1)
        if motion == "pan":
            x, y = round(t * span_x), round(0.5 * t * span_y)
            frame = np.ascontiguousarray(arr[y : y + height, x : x + width])
        elif motion == "zoom":
            s = 1.0 - 0.2 * t
            w, h = src.width * s, src.height * s
            box = ((src.width - w) / 2, (src.height - h) / 2, (src.width + w) / 2)
            box += ((src.height + h) / 2,)
            im = src.resize((width, height), Image.Resampling.BILINEAR, box=box)
            frame = np.asarray(im)
        elif motion == "static":
            frame = np.asarray(src.resize((width, height), Image.Resampling.BICUBIC))
        else:
            raise ValueError(f"unknown motion {motion!r}")
        if noise > 0:
            noisy = frame + rng.normal(0.0, noise, frame.shape)
            frame = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
        yield frame


def make_clip(
    path: Path,
    frames: Iterator[NDArray[np.uint8]] | list[NDArray[np.uint8]],
    *,
    fps: int = 30,
    audio: str | None = "aac",
    rotation: int = 0,
    crf: int = 16,
    preset: str = "veryfast",
    codec: str = "libx264",
) -> Path:
    """Encode RGB ``frames`` to ``path`` (yuv420p), with a chord on ``audio`` (``aac``,
    ``pcm_s16le`` or ``None``) as long as the video, and a display ``rotation``."""
    out = av.open(str(path), "w")
    v = None
    a = None
    count = 0
    for frame in frames:
        if v is None:
            v = out.add_stream(codec, rate=fps, options={"crf": str(crf), "preset": preset})
            v.height, v.width = frame.shape[:2]
            v.pix_fmt = "yuv420p"
            if rotation:
                v.set_display_rotation(rotation)
            a = out.add_stream(audio, rate=48000) if audio else None
            if a is not None:
                a.layout = "stereo"
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts = count
        vf.time_base = Fraction(1, fps)
        for p in v.encode(vf):
            out.mux(p)
        count += 1
    if v is None:
        raise ValueError("no frames")
    for p in v.encode():
        out.mux(p)
    if a is not None:
        _write_audio(out, a, count / fps)
    out.close()
    return path


def _write_audio(out: av.container.OutputContainer, a: av.AudioStream, seconds: float) -> None:
    rate = 48000
    size = a.codec_context.frame_size or 1024
    total = int(seconds * rate)
    t = 0
    while t < total:
        n = min(size, total - t)
        k = np.arange(t, t + n) / rate
        wave = 0.2 * (np.sin(2 * np.pi * 440 * k) + np.sin(2 * np.pi * 554.37 * k))
        fmt = "s16" if a.codec_context.name.startswith("pcm") else "fltp"
        data = np.stack([wave, wave]).astype(np.float32)
        if fmt == "s16":
            data = (data.T.reshape(1, -1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="stereo")
        frame.sample_rate = rate
        frame.pts = t
        frame.time_base = Fraction(1, rate)
        for p in a.encode(frame):
            out.mux(p)
        t += n
    for p in a.encode():
        out.mux(p)


def audio_packets(path: Path) -> list[bytes]:
    """The bytes of every packet of the first audio stream of ``path``."""
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def transcode(
    src: Path,
    dst: Path,
    *,
    scale: float = 1.0,
    height: int | None = None,
    crop: float = 1.0,
    fps: int | None = None,
    crf: int = 23,
    codec: str = "libx264",
    preset: str = "veryfast",
    start: float | None = None,
    end: float | None = None,
) -> Path:
    """Re-encode the video of ``src`` (no audio) as an attack.

    ``scale`` or ``height`` resize (bicubic, even sizes); ``crop`` keeps that share of the
    area, centred; ``fps`` changes the frame rate by dropping or repeating frames; ``start``
    and ``end`` (seconds) cut.
    """
    with av.open(str(src)) as inp:
        vs = inp.streams.video[0]
        vs.thread_type = "AUTO"
        rate = fps or vs.average_rate or 30
        with av.open(str(dst), "w") as out:
            o = None
            n_out = 0
            for frame in inp.decode(vs):
                t = float(frame.time)
                if start is not None and t < start - 1e-6:
                    continue
                if end is not None and t >= end - 1e-6:
                    break
                img = frame.to_ndarray(format="rgb24")
                h, w = img.shape[:2]
                if crop < 1.0:
                    s = crop**0.5
                    ch, cw = 2 * round(h * s / 2), 2 * round(w * s / 2)
                    y0, x0 = (h - ch) // 2, (w - cw) // 2
                    img = img[y0 : y0 + ch, x0 : x0 + cw]
                    h, w = ch, cw
                if height is not None:
                    scale = height / h
                if scale != 1.0:
                    nw, nh = 2 * round(w * scale / 2), 2 * round(h * scale / 2)
                    im = Image.fromarray(img).resize((nw, nh), Image.Resampling.BICUBIC)
                    img = np.asarray(im)
                if o is None:
                    opts = {"crf": str(crf)}
                    if "vp9" in codec:
                        opts.update({"b": "0", "cpu-used": "8", "row-mt": "1"})
                        opts["deadline"] = "realtime"
                    else:
                        opts["preset"] = preset
                    o = out.add_stream(codec, rate=rate, options=opts)
                    o.height, o.width = img.shape[:2]
                    o.pix_fmt = "yuv420p"
                    o.thread_type = "AUTO"
                    t0 = t
                # Frames due up to this frame's time at the new rate (drop or repeat).
                due = int(np.floor((t - t0) * float(rate) + 1e-6)) + 1 if fps else n_out + 1
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                while n_out < due:
                    vf.pts = n_out
                    vf.time_base = Fraction(1) / Fraction(rate)
                    for p in o.encode(vf):
                        out.mux(p)
                    n_out += 1
            if o is None:
                raise ValueError(f"{src}: no frames in range")
            for p in o.encode():
                out.mux(p)
    return dst
