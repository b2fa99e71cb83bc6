"""Public API: :func:`embed`, :func:`detect` and their results."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from watermark import _detect, _ecc, _embed, _keys, _layout

__all__ = ["Detection", "Geometry", "embed", "detect", "MIN_SIDE"]

MIN_SIDE = 256
"""Smallest accepted image side for embedding (detection accepts 128)."""
_MIN_DETECT_SIDE = 128


@dataclass(frozen=True)
class Geometry:
    """The estimated transform from the marked original to the analysed image."""

    scale: float
    """Linear scale of the tile relative to the 128-px base tile (exact for originals up to
    ~724 px on the shorter side; a power of two larger originals use larger tiles)."""
    aspect: float
    """Ratio of the vertical to the horizontal scale (1.0 when the aspect ratio is kept)."""
    rotation: float
    """Rotation in degrees, counter-clockwise as displayed."""
    flipped: bool
    """Whether the image was mirrored (reported as a horizontal flip)."""
    shift: tuple[float, float]
    """Position (y, x) in pixels of a tile origin in the analysed image."""


@dataclass(frozen=True)
class Detection:
    """The outcome of :func:`detect`."""

    found: bool
    """Whether the mark of this key is present (``p_value <= 1e-6``)."""
    payload: bytes | None
    """The decoded payload, when its keyed CRC-24 validated."""
    score: float
    """Best sync z-score over all hypotheses."""
    p_value: float
    """Bound on the chance that an image not marked with this key scores this high."""
    geometry: Geometry | None
    """The estimated geometry of the best hypothesis (``None`` when not found)."""


def _validate(image: object, *, min_side: int) -> NDArray[np.generic]:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, not {type(image).__name__}")
    if image.dtype not in (np.uint8, np.float32):
        raise ValueError(f"image dtype must be uint8 or float32, not {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"image must have shape (H, W) or (H, W, 3), not {image.shape}")
    if min(image.shape[:2]) < min_side:
        raise ValueError(
            f"image is {image.shape[1]}x{image.shape[0]}; both sides must be >= {min_side} px"
        )
    if image.dtype == np.float32:
        if not np.all(np.isfinite(image)):
            raise ValueError("float32 image contains NaN or infinity")
        lo, hi = float(image.min()), float(image.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"float32 image must lie in [0, 1], found [{lo:g}, {hi:g}]")
    return image


def _payload(payload: object) -> bytes:
    if not isinstance(payload, bytes | bytearray):
        raise ValueError(f"payload must be bytes, not {type(payload).__name__}")
    if len(payload) > _ecc.MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(payload)} bytes; at most 8 bytes (64 bits) fit")
    return bytes(payload)


def embed(
    image: NDArray[np.generic], payload: bytes, key: bytes | str, *, psnr: float = 40.0
) -> NDArray[np.generic]:
    """Mark ``image`` with a 64-bit ``payload`` under ``key``.

    Parameters
    ----------
    image : ndarray
        ``uint8`` (H, W, 3) RGB or (H, W) grey, or ``float32`` in [0, 1]; sides >= 256 px.
    payload : bytes
        At most 8 bytes.
    key : bytes or str
        The marking key (``watermark.PUBLIC_KEY`` for publicly readable marks).
    psnr : float, optional
        Target peak signal-to-noise ratio in dB (20-60); the result is at least this close.

    Returns
    -------
    ndarray
        The marked image, same shape and dtype.

    Raises
    ------
    ValueError
        For a bad image, payload, key or strength.

    Examples
    --------
    >>> import numpy as np
    >>> import watermark
    >>> y, x = np.mgrid[0:256, 0:256]
    >>> grey = np.rint(128 + 60 * np.sin(x / 9) * np.cos(y / 13)).astype(np.uint8)
    >>> image = np.stack([grey, grey[::-1], grey.T], axis=-1)
    >>> marked = watermark.embed(image, b"\\x01\\x02", "secret")
    >>> marked.shape, marked.dtype
    ((256, 256, 3), dtype('uint8'))
    >>> watermark.detect(marked, "secret").payload
    b'\\x01\\x02'
    """
    img = _validate(image, min_side=MIN_SIDE)
    data = _payload(payload)
    raw = _keys.key_bytes(key)
    if not isinstance(psnr, int | float) or not 20.0 <= float(psnr) <= 60.0:
        raise ValueError(f"psnr must be a number between 20 and 60 dB, not {psnr!r}")
    p = _embed.plan(raw, data, img.shape[0], img.shape[1])
    return _embed.apply(img, p, psnr=float(psnr))


def _geometry(
    basis: NDArray[np.float64], orientation: int, shift: tuple[int, int], f: int
) -> Geometry:
    om = _detect.ORIENTATION_MATRICES[orientation]
    r, t = om[:, :2], om[:, 2]
    n = _layout.FOLD
    m = f * basis @ r / n * (n / _layout.BASE_TILE)  # canonical base-tile px -> image px (y, x)
    # Convert to (x, y) with y pointing up for a conventional angle.
    flip_y = np.array([[0.0, 1.0], [-1.0, 0.0]])  # (y, x) -> (x, -y)
    mx = flip_y @ m @ np.linalg.inv(flip_y)
    u, s, vt = np.linalg.svd(mx)
    rot = u @ vt
    flipped = bool(np.linalg.det(rot) < 0)
    if flipped:
        rot = rot @ np.diag([-1.0, 1.0])
    p = rot.T @ mx
    angle = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    sx, sy = abs(float(p[0, 0])), abs(float(p[1, 1]))
    origin = f * basis @ ((r @ np.array(shift, dtype=np.float64) + t) / n)
    return Geometry(
        scale=float(math.sqrt(abs(np.linalg.det(m)))),
        aspect=sy / sx if sx > 0 else 1.0,
        rotation=angle,
        flipped=flipped,
        shift=(float(origin[0]), float(origin[1])),
    )


def detect(image: NDArray[np.generic], key: bytes | str) -> Detection:
    """Look for the mark of ``key`` in ``image`` and decode its payload.

    Parameters
    ----------
    image : ndarray
        ``uint8`` (H, W, 3) RGB or (H, W) grey, or ``float32`` in [0, 1]; sides >= 128 px.
    key : bytes or str
        The key the mark was made with.

    Returns
    -------
    Detection
        ``found`` is true when ``p_value <= 1e-6``; ``payload`` is set when it decoded with a
        valid CRC.

    Examples
    --------
    >>> import numpy as np
    >>> import watermark
    >>> y, x = np.mgrid[0:256, 0:320]
    >>> image = np.rint(128 + 60 * np.sin(x / 9) * np.cos(y / 13)).astype(np.uint8)
    >>> watermark.detect(image, "secret").found
    False
    >>> result = watermark.detect(watermark.embed(image, b"hi", "secret"), "secret")
    >>> result.found, result.payload, result.p_value < 1e-6
    (True, b'hi', True)
    """
    img = _validate(image, min_side=_MIN_DETECT_SIDE)
    raw = _keys.key_bytes(key)
    x = img.astype(np.float32) * (np.float32(255.0) if img.dtype == np.float32 else 1)
    y, f = _detect.analysis_image(x)
    w = _detect.prefilter(y)

    best: tuple[float, int, int, tuple[int, int], NDArray[np.float64]] | None = None
    hyps: list[tuple[float, int, tuple[int, int], NDArray[np.float64], NDArray[np.float64]]] = []
    decodes = 0
    payload: bytes | None = None
    evaluated = 0

    def evaluate(basis: NDArray[np.float64]) -> None:
        nonlocal best, evaluated
        evaluated += 1
        sums, counts = _detect.fold(w, basis)
        folded = sums / np.maximum(counts, 1.0)
        z = _detect.sync_scores(folded, raw)
        flat = int(np.argmax(z))
        o, rem = divmod(flat, _layout.FOLD * _layout.FOLD)
        d = divmod(rem, _layout.FOLD)
        zmax = float(z.reshape(-1)[flat])
        hyps.append((zmax, o, d, basis, folded))
        if best is None or zmax > best[0]:
            best = (zmax, evaluated, o, d, basis)

    def try_decode(limit: int) -> bytes | None:
        nonlocal decodes
        for h in sorted(hyps, key=lambda t: -t[0]):
            if decodes >= MAX_DEC or limit <= 0:
                break
            if h[0] < 3.0:
                break
            if any(h is done for done in tried):
                continue
            tried.append(h)
            decodes += 1
            limit -= 1
            out = _detect.decode(h[4], raw, h[1], h[2])
            if out is not None:
                found_at.append(h)
                return out
        return None

    MAX_DEC = _detect.MAX_DECODES
    tried: list[object] = []
    found_at: list[
        tuple[float, int, tuple[int, int], NDArray[np.float64], NDArray[np.float64]]
    ] = []

    evaluate(np.diag([float(_layout.BASE_TILE)] * 2))
    payload = try_decode(1)
    if payload is None:
        spec = _detect.whitened_spectrum(w)
        for cand in _detect.template_lattices(spec, raw) + _detect.lattices(w, limit=3):
            if evaluated >= _detect.MAX_LATTICES - 2 or payload is not None:
                break
            evaluate(cand.basis)
            snap = _detect.snapped(cand.basis)
            if snap is not None and not np.allclose(snap, cand.basis):
                evaluate(snap)
            if hyps[-1][0] >= 5.5:
                payload = try_decode(1)
        if payload is None:
            payload = try_decode(_detect.MAX_DECODES)
    assert best is not None
    z = max(h[0] for h in hyps)
    p = _detect.p_value(z, payload is not None)
    found = p <= _detect.ALPHA
    geometry = None
    if found:
        h = found_at[0] if found_at else max(hyps, key=lambda t: t[0])
        geometry = _geometry(h[3], h[1], h[2], f)
    return Detection(found=found, payload=payload, score=z, p_value=p, geometry=geometry)
