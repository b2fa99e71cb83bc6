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


# --- Chained and small-size attacks (social-media paths) -----------------------------------

MIN_SHORT_SIDE = 256
"""Chains never shrink a picture below this shorter side (the downscale is clamped)."""


def rotate_fill(deg: float) -> Attack:
    """Rotate by ``deg`` (bicubic) and crop the largest centred upright rectangle of the
    image's aspect ratio (crop-to-fill, no resize back: the picture gets smaller)."""

    def run(a: Array) -> Array:
        h, w = a.shape[:2]
        im = _pil(a).rotate(deg, resample=Image.Resampling.BICUBIC, expand=False)
        t = math.radians(abs(deg))
        k = 1.0 / (math.cos(t) + math.sin(t) * max(w / h, h / w))
        cw, ch = int(w * k), int(h * k)
        x, y = (w - cw) // 2, (h - ch) // 2
        return _arr(im.crop((x, y, x + cw, y + ch)))

    return run


def crop_side(area: float, side: str) -> Attack:
    """Crop keeping ``area`` of the pixels, anchored at ``side`` (top/bottom/left/right/
    centre); the cut is taken from that side's opposite edge along one axis only."""

    def run(a: Array) -> Array:
        h, w = a.shape[:2]
        if side in ("top", "bottom"):
            ch = max(1, round(h * area))
            y = 0 if side == "top" else h - ch
            return a[y : y + ch].copy()
        if side in ("left", "right"):
            cw = max(1, round(w * area))
            x = 0 if side == "left" else w - cw
            return a[:, x : x + cw].copy()
        return crop(area)(a)

    return run


def downscale_to(short: int) -> Attack:
    """Bicubic (antialiased) downscale so that the shorter side is ``short`` px."""

    def run(a: Array) -> Array:
        h, w = a.shape[:2]
        s = short / min(h, w)
        if s >= 1.0:
            return a
        im = _pil(a).resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BICUBIC)
        return _arr(im)

    return run


def downscale(s: float, later: float = 1.0) -> Attack:
    """Bicubic downscale by ``s``, clamped so that the shorter side stays >= MIN_SHORT_SIDE
    even after later edits that shrink it by the factor ``later``."""

    def run(a: Array) -> Array:
        h, w = a.shape[:2]
        f = max(s, min(1.0, MIN_SHORT_SIDE / (later * min(h, w))))
        if f >= 1.0:
            return a
        return resize(f)(a)

    return run


def sharpen(a: Array) -> Array:
    """Pillow unsharp mask (radius 2, 80 %, threshold 2)."""
    return _arr(_pil(a).filter(ImageFilter.UnsharpMask(radius=2, percent=80, threshold=2)))


def tone(bright: float, contrast_: float) -> Attack:
    """Brightness then contrast enhancement (Pillow)."""
    return chain(brightness(bright), contrast(contrast_))


_EDITS = ("rotate", "crop", "downscale", "jpeg", "webp", "tone", "sharpen")


def _edit(kind: str, rng: np.random.Generator) -> tuple[str, Attack]:
    if kind == "rotate":
        deg = float(rng.uniform(-5.0, 5.0))
        return f"rot{deg:+.1f}", rotate_fill(deg)
    if kind == "crop":
        area = float(rng.uniform(0.7, 0.95))
        side = str(rng.choice(["top", "bottom", "left", "right", "centre"]))
        return f"crop{area:.2f}{side[0]}", crop_side(area, side)
    if kind == "downscale":
        s = float(rng.uniform(0.5, 0.9))
        return f"down{s:.2f}", downscale(s)
    if kind == "jpeg":
        q = int(rng.integers(70, 91))
        return f"jpeg{q}", jpeg(q)
    if kind == "webp":
        q = int(rng.integers(70, 91))
        return f"webp{q}", webp(q)
    if kind == "tone":
        b, c = float(rng.uniform(0.8, 1.2)), float(rng.uniform(0.8, 1.2))
        return f"tone{b:.2f}/{c:.2f}", tone(b, c)
    return "sharpen", sharpen


def random_chain(seed: int, *, min_edits: int = 2, max_edits: int = 4) -> tuple[str, Attack]:
    """A seeded chain of 2-4 distinct common edits in random order: rotation <= 5 degrees
    with crop-to-fill, a one-sided crop to 70-95 % of the area, a downscale to 50-90 % (never
    below a 256-px shorter side), JPEG 70-90, WebP 70-90, brightness/contrast 0.8-1.2,
    sharpen. The chain always ends with a lossy save (JPEG or WebP) if it has none."""
    rng = np.random.default_rng([20261206, seed])
    n = int(rng.integers(min_edits, max_edits + 1))
    kinds = [str(k) for k in rng.choice(_EDITS, size=n, replace=False)]
    if "jpeg" not in kinds and "webp" not in kinds:
        kinds[-1] = str(rng.choice(["jpeg", "webp"]))
    steps = [_edit(k, rng) for k in kinds]
    if "downscale" in kinds:  # later crops and rotations shrink the picture further
        i = kinds.index("downscale")
        later = 0.98  # margin for the rounding of the labels
        for name, _ in steps[i + 1 :]:
            if name.startswith("crop"):
                later *= float(name[4:8])
            elif name.startswith("rot"):
                t = math.radians(abs(float(name[3:])))
                later /= math.cos(t) + math.sin(t) * 16 / 9
        s = float(steps[i][0][4:])
        steps[i] = (steps[i][0], downscale(s, later))
    return "+".join(s[0] for s in steps), chain(*(s[1] for s in steps))


def social(a: Array) -> Array:
    """The typical social-media path: rotate 3 degrees (crop-to-fill), crop 85 % of the area,
    downscale to 60 % (>= 256 px), JPEG 80."""
    return chain(rotate_fill(3.0), crop(0.85), downscale(0.6), jpeg(80))(a)


CHAINS = 8
"""Random chains per image in the benchmark (``chainN`` attacks)."""

EXTRA_ATTACKS: dict[str, Attack] = {
    "rot-5": rotate(-5.0),
    "rot10": rotate(10.0),
    "rot-10": rotate(-10.0),
    "rotfill7": rotate_fill(7.0),
    "rotfill-10": rotate_fill(-10.0),
    "small256": downscale_to(256),
    "small256+jpeg80": chain(downscale_to(256), jpeg(80)),
    "social": social,
    **{f"chain{i}": random_chain(i)[1] for i in range(CHAINS)},
}
"""Attacks added for the social-media robustness targets (rotation to 10 degrees, chains,
pictures down to 256 px)."""

ATTACKS.update(EXTRA_ATTACKS)

FAMILIES: dict[str, tuple[str, ...]] = {
    "none": ("none",),
    "JPEG / WebP": ("jpeg90", "jpeg75", "jpeg50", "webp75"),
    "resize, aspect": (
        "resize0.5",
        "resize0.75",
        "resize0.5_back",
        "resize0.75_back",
        "aspect_w0.8",
    ),
    "crop": ("crop90", "crop75", "crop50"),
    "rotation to ±10° (crop-to-fill)": (
        "rot2",
        "rot5",
        "rot-5",
        "rot10",
        "rot-10",
        "rotfill7",
        "rotfill-10",
    ),
    "noise, blur, tone, flip": ("noise5", "blur1", "bright1.2", "contrast0.8", "hflip"),
    "classic combinations": ("resize0.75+jpeg75", "screenshot"),
    "small (256 px short side)": ("small256", "small256+jpeg80"),
    "chains of 2-4 edits": ("social", *(f"chain{i}" for i in range(CHAINS))),
}
"""Attack families of the README table (every attack belongs to exactly one)."""
