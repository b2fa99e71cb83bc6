"""The deterministic attack suite used by the watermark benchmarks (and reusable for video).

Every attack maps a uint8 RGB array (H, W, 3) to a uint8 RGB array; all randomness is seeded,
so a run is reproducible. ``ATTACKS`` is ordered as in the project README table.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageEnhance, ImageFilter

__all__ = ["ATTACKS", "Attack", "apply"]

Array = NDArray[np.uint8]
Attack = Callable[[Array], Array]


def _pil(a: Array) -> Image.Image:
    return Image.fromarray(a, mode="RGB") if a.ndim == 3 else Image.fromarray(a).convert("RGB")


def _arr(im: Image.Image) -> Array:
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _codec(a: Array, fmt: str, **kw: object) -> Array:
    buf = io.BytesIO()
    _pil(a).save(buf, format=fmt, **kw)
    buf.seek(0)
    with Image.open(buf) as im:
        return _arr(im)


def jpeg(q: int) -> Attack:
    """JPEG at quality ``q`` (Pillow, 4:2:0)."""
    return lambda a: _codec(a, "JPEG", quality=q, subsampling=2)


def webp(q: int) -> Attack:
    """Lossy WebP at quality ``q``."""
    return lambda a: _codec(a, "WEBP", quality=q)


def resize(s: float, back: bool = False) -> Attack:
    """Bicubic resize by ``s``; with ``back`` resized to the original size again."""

    def run(a: Array) -> Array:
        h, w = a.shape[:2]
        im = _pil(a).resize((round(w * s), round(h * s)), Image.Resampling.BICUBIC)
        if back:
            im = im.resize((w, h), Image.Resampling.BICUBIC)
        return _arr(im)

    return run


def crop(area: float) -> Attack:
    """Centre crop keeping ``area`` of the pixels (same aspect ratio)."""

    def run(a: Array) -> Array:
        h, w = a.shape[:2]
        k = math.sqrt(area)
        ch, cw = round(h * k), round(w * k)
        y, x = (h - ch) // 2, (w - cw) // 2
        return a[y : y + ch, x : x + cw].copy()

    return run


def rotate(deg: float) -> Attack:
    """Rotate by ``deg`` (bicubic), crop the largest centred upright rectangle, resize back."""

    def run(a: Array) -> Array:
        h, w = a.shape[:2]
        im = _pil(a).rotate(deg, resample=Image.Resampling.BICUBIC, expand=False)
        t = math.radians(abs(deg))
        # Largest axis-aligned rectangle with the image's aspect inside the rotated frame.
        k = 1.0 / (math.cos(t) + math.sin(t) * max(w / h, h / w))
        cw, ch = int(w * k), int(h * k)
        x, y = (w - cw) // 2, (h - ch) // 2
        im = im.crop((x, y, x + cw, y + ch)).resize((w, h), Image.Resampling.BICUBIC)
        return _arr(im)

    return run


def noise(sigma: float) -> Attack:
    """Additive Gaussian noise (seeded)."""

    def run(a: Array) -> Array:
        rng = np.random.default_rng(1234)
        return np.clip(np.rint(a + rng.normal(0.0, sigma, a.shape)), 0, 255).astype(np.uint8)

    return run


def blur(radius: float) -> Attack:
    """Pillow Gaussian blur."""
    return lambda a: _arr(_pil(a).filter(ImageFilter.GaussianBlur(radius)))


def brightness(f: float) -> Attack:
    """Pillow brightness enhancement."""
    return lambda a: _arr(ImageEnhance.Brightness(_pil(a)).enhance(f))


def contrast(f: float) -> Attack:
    """Pillow contrast enhancement."""
    return lambda a: _arr(ImageEnhance.Contrast(_pil(a)).enhance(f))


def chain(*attacks: Attack) -> Attack:
    """Apply attacks in order."""

    def run(a: Array) -> Array:
        for att in attacks:
            a = att(a)
        return a

    return run


def aspect(fw: float) -> Attack:
    """Change the width by ``fw`` (bicubic), keep the height."""

    def run(a: Array) -> Array:
        h, w = a.shape[:2]
        return _arr(_pil(a).resize((round(w * fw), h), Image.Resampling.BICUBIC))

    return run


def hflip(a: Array) -> Array:
    """Mirror left-right."""
    return a[:, ::-1].copy()


def screenshot(a: Array) -> Array:
    """0.8x bilinear without antialiasing, uneven crop (3 % left/top, 1 % right/bottom), PNG."""
    h, w = a.shape[:2]
    nw, nh = round(w * 0.8), round(h * 0.8)
    im = _pil(a).transform(
        (nw, nh), Image.Transform.AFFINE, (w / nw, 0, 0, 0, h / nh, 0), Image.Resampling.BILINEAR
    )
    x0, y0 = round(0.03 * nw), round(0.03 * nh)
    x1, y1 = nw - round(0.01 * nw), nh - round(0.01 * nh)
    return _codec(_arr(im.crop((x0, y0, x1, y1))), "PNG")


def identity(a: Array) -> Array:
    """No attack."""
    return a


ATTACKS: dict[str, Attack] = {
    "none": identity,
    "jpeg90": jpeg(90),
    "jpeg75": jpeg(75),
    "jpeg50": jpeg(50),
    "webp75": webp(75),
    "resize0.5": resize(0.5),
    "resize0.75": resize(0.75),
    "resize0.5_back": resize(0.5, back=True),
    "resize0.75_back": resize(0.75, back=True),
    "crop90": crop(0.90),
    "crop75": crop(0.75),
    "crop50": crop(0.50),
    "rot2": rotate(2.0),
    "rot5": rotate(5.0),
    "noise5": noise(5.0),
    "blur1": blur(1.0),
    "bright1.2": brightness(1.2),
    "contrast0.8": contrast(0.8),
    "resize0.75+jpeg75": chain(resize(0.75), jpeg(75)),
    "aspect_w0.8": aspect(0.8),
    "hflip": hflip,
    "screenshot": screenshot,
}


def apply(name: str, image: Array) -> Array:
    """Apply the named attack to a uint8 (H, W, 3) or (H, W) image."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return ATTACKS[name](image)
