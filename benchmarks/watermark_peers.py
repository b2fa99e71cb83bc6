"""Adapters for the peer watermarks compared in ``watermark_bench.py`` (``bench`` extra).

* invisible-watermark 0.2 ``dwtDct`` / ``dwtDctSvd``: the package's own classes. The
  package ``__init__`` imports torch only for RivaGAN's array glue, so the two modules are
  loaded from their files directly.
* invisible-watermark ``rivaGan``: the ONNX encoder/decoder shipped inside the package, run
  with onnxruntime with the package's pre/post-processing (scale to [-1, 1], NCTHW layout,
  clamp, threshold 0.52) written in numpy instead of torch.
* blind-watermark 0.4: ``WaterMark`` with its two seeds; ``d1``/``d2`` set the strength.

Every adapter maps uint8 RGB arrays and bit arrays; ``decode`` returns ``None`` when the
method cannot produce bits for that input (e.g. it raises on an unexpected size).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Bits = NDArray[np.uint8]
Image = NDArray[np.uint8]


@dataclass(frozen=True)
class Peer:
    """One method under test."""

    name: str
    nbits: int
    embed: Callable[[Image, Bits], Image]
    decode: Callable[[Image], Bits | None]


def _imwm_module(name: str) -> Any:
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("invisible-watermark is not installed (pip install '.[bench]')")
    path = os.path.join(list(spec.submodule_search_locations)[0], f"{name}.py")
    mspec = importlib.util.spec_from_file_location(f"_imwm_{name}", path)
    assert mspec is not None and mspec.loader is not None
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    return mod


def imwm(method: str, scales: list[int] | None = None, label: str | None = None) -> Peer:
    """invisible-watermark dwtDct (``maxDct``) or dwtDctSvd, 64 bits."""
    mod = _imwm_module("maxDct" if method == "dwtDct" else "dwtDctSvd")
    cls = mod.EmbedMaxDct if method == "dwtDct" else mod.EmbedDwtDctSvd
    kw: dict[str, Any] = {} if scales is None else {"scales": scales}

    def embed(img: Image, bits: Bits) -> Image:
        enc = cls(list(bits.astype(int)), wmLen=len(bits), **kw)
        bgr = np.ascontiguousarray(img[..., ::-1])
        return np.ascontiguousarray(np.clip(enc.encode(bgr), 0, 255).astype(np.uint8)[..., ::-1])

    def decode(img: Image) -> Bits | None:
        if img.shape[0] * img.shape[1] < 256 * 256:
            return None
        dec = cls([], wmLen=64, **kw)
        bits = dec.decode(np.ascontiguousarray(img[..., ::-1]))
        return np.asarray(bits, dtype=np.uint8)

    return Peer(label or f"imwm_{method}", 64, embed, decode)


def riva() -> Peer:
    """RivaGAN (32 bits) from the ONNX models in invisible-watermark."""
    import onnxruntime

    spec = importlib.util.find_spec("imwatermark")
    assert spec is not None and spec.submodule_search_locations is not None
    base = list(spec.submodule_search_locations)[0]
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    enc = onnxruntime.InferenceSession(os.path.join(base, "rivagan_encoder.onnx"), opts)
    dec = onnxruntime.InferenceSession(os.path.join(base, "rivagan_decoder.onnx"), opts)

    def prep(img: Image) -> NDArray[np.float32]:
        bgr = img[..., ::-1].astype(np.float32) / 127.5 - 1.0  # the package feeds cv2 BGR
        return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None, :, None])  # 1, C, T, H, W

    def embed(img: Image, bits: Bits) -> Image:
        out = enc.run(None, {"frame": prep(img), "data": bits[None].astype(np.float32)})[0]
        out = np.clip(out, -1.0, 1.0)
        bgr = ((out[0, :, 0].transpose(1, 2, 0) + 1.0) * 127.5).astype(np.uint8)
        return np.ascontiguousarray(bgr[..., ::-1])

    def decode(img: Image) -> Bits | None:
        data = dec.run(None, {"frame": prep(img)})[0][0]
        return np.asarray(data > 0.52, dtype=np.uint8)

    return Peer("imwm_rivaGan", 32, embed, decode)


def blind(d1: int = 36, d2: int = 20, label: str = "blind_wm") -> Peer:
    """blind-watermark 0.4, 64 bits, seeds 1/1, strength (d1, d2)."""
    with contextlib.redirect_stdout(io.StringIO()):
        from blind_watermark import WaterMark, bw_notes

    bw_notes.close()

    def make() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            wm = WaterMark(password_wm=1, password_img=1)
        wm.bwm_core.d1, wm.bwm_core.d2 = d1, d2
        return wm

    def embed(img: Image, bits: Bits) -> Image:
        wm = make()
        with contextlib.redirect_stdout(io.StringIO()):
            wm.read_img(img=np.ascontiguousarray(img[..., ::-1]).astype(np.float32))
            wm.read_wm([bool(b) for b in bits], mode="bit")
            out = wm.embed()
        return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)[..., ::-1])

    def decode(img: Image) -> Bits | None:
        wm = make()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                bits = wm.extract(
                    embed_img=np.ascontiguousarray(img[..., ::-1]).astype(np.float32),
                    wm_shape=64,
                    mode="bit",
                )
        except Exception:  # noqa: BLE001 - the library raises on sizes it cannot handle
            return None
        return np.asarray(np.asarray(bits) > 0.5, dtype=np.uint8)

    return Peer(label, 64, embed, decode)
