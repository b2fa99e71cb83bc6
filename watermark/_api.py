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
    """The decoded payload, when the mark was found and its keyed CRC-24 validated."""
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
    image: NDArray[np.generic],
    payload: bytes,
    key: bytes | str,
    *,
    psnr: float = 40.0,
    profile: str = _embed.DEFAULT_PROFILE,
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
    profile : {"robust", "subtle"}, optional
        Where the energy goes (``spec/watermark.md`` section 7). ``robust`` (the default)
        spreads it evenly over mid-tones and survives chains of edits and small copies;
        ``subtle`` hides it in texture (less visible in flat skies, weaker after heavy edits).

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
    if profile not in _embed.PROFILES:
        names = ", ".join(sorted(_embed.PROFILES))
        raise ValueError(f"profile must be one of {names}, not {profile!r}")
    p = _embed.plan(raw, data, img.shape[0], img.shape[1])
    return _embed.apply(img, p, psnr=float(psnr), profile=profile)


def _geometry(
    basis: NDArray[np.float64],
    orientation: int,
    shift: tuple[int, int],
    f: int,
    tile: int = _layout.BASE_TILE,
) -> Geometry:
    om = _detect.ORIENTATION_MATRICES[orientation]
    r, t = om[:, :2], om[:, 2]
    n = _layout.FOLD
    m = f * basis @ r / n * (n / tile)  # canonical nominal-tile px -> image px (y, x)
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
    return _search_and_decide(_detect.prefilter(y), raw, f)


def _search_and_decide(
    w: NDArray[np.float32],
    key: bytes,
    f: int,
    *,
    tile: int = _layout.BASE_TILE,
    max_scale: float = _detect.MAX_TILE_SCALE,
) -> Detection:
    """Search the prefiltered analysis image ``w`` (analysis factor ``f``) for the mark of
    ``key`` and decide (spec sections 8-10); ``tile`` and ``max_scale`` as :class:`_Search`."""
    search = _Search(w, key, tile=tile, max_scale=max_scale)
    payload = search.run()
    z = search.best.z
    p = _detect.p_value(z, payload is not None)
    found = p <= _detect.ALPHA
    geometry = None
    if not found:
        payload = None  # a CRC match alone, at a score this low, is not evidence enough
    else:
        h = search.decoded if search.decoded is not None else search.best
        geometry = _geometry(h.basis, h.orientation, h.shift, f, tile)
    return Detection(found=found, payload=payload, score=z, p_value=p, geometry=geometry)


@dataclass(frozen=True)
class _Hypothesis:
    """The best (orientation, shift) of one lattice hypothesis."""

    z: float
    orientation: int
    shift: tuple[int, int]
    basis: NDArray[np.float64]
    folded: NDArray[np.float64]


class _Search:
    """Evaluates at most MAX_LATTICES lattices and MAX_DECODES payload decodes.

    ``tile`` is the nominal tile side in analysis pixels (tried first) and ``max_scale`` the
    largest tile, in multiples of ``BASE_TILE``, that the template search looks for.
    """

    def __init__(
        self,
        w: NDArray[np.float32],
        key: bytes,
        *,
        tile: int = _layout.BASE_TILE,
        max_scale: float = _detect.MAX_TILE_SCALE,
    ) -> None:
        self.w = w
        self.key = key
        self.tile = tile
        self.max_scale = max_scale
        self.hyps: list[_Hypothesis] = []
        self.tried: set[int] = set()
        self.decoded: _Hypothesis | None = None

    @property
    def best(self) -> _Hypothesis:
        return max(self.hyps, key=lambda h: h.z)

    def evaluate(self, basis: NDArray[np.float64]) -> _Hypothesis | None:
        if len(self.hyps) >= _detect.MAX_LATTICES or not _detect.plausible(basis):
            return None
        sums, counts = _detect.fold(self.w, basis)
        folded = sums / np.maximum(counts, 1.0)
        z, o, d = _detect.best_sync(folded, self.key)
        h = _Hypothesis(z, o, d, basis, folded)
        self.hyps.append(h)
        return h

    def decode(self, h: _Hypothesis) -> bytes | None:
        """Decode ``h`` if the budget allows (each hypothesis at most once)."""
        if id(h) in self.tried or len(self.tried) >= _detect.MAX_DECODES:
            return None
        if h.z < _detect.crc_threshold():
            return None  # below it even a valid CRC could not make a detection
        self.tried.add(id(h))
        out = _detect.decode(h.folded, self.key, h.orientation, h.shift)
        if out is not None:
            self.decoded = h
        return out

    def refine(self) -> None:
        """Hill-climb scale, rotation and aspect around the best hypothesis (two rounds)."""
        for ds, dr in ((0.004, 0.0025), (0.002, 0.0012)):
            centre = self.best
            for sx, sy, rot in (
                (1 + ds, 1 + ds, 0.0),
                (1 - ds, 1 - ds, 0.0),
                (1.0, 1.0, dr),
                (1.0, 1.0, -dr),
                (1 + ds, 1 - ds, 0.0),
                (1 - ds, 1 + ds, 0.0),
            ):
                c, sn = np.cos(rot), np.sin(rot)
                m = np.array([[c, -sn], [sn, c]]) @ np.diag([sy, sx])
                if self.evaluate(m @ centre.basis) is None:
                    return

    def run(self) -> bytes | None:
        """Search the hypotheses in the order of spec section 8; decode at most twice."""
        strong = 8.0
        nominal = self.evaluate(np.diag([float(self.tile)] * 2))
        assert nominal is not None
        if nominal.z >= strong and (out := self.decode(nominal)) is not None:
            return out
        spec = _detect.whitened_spectrum(self.w)
        cands = _detect.template_lattices(spec, self.key, max_scale=self.max_scale)
        for rank, cand in enumerate(cands):
            if rank >= 2 and cand.strength < 7.5:
                continue  # weak correlation peaks beyond the first two: noise on unmarked images
            for basis in (cand.basis, _detect.snapped(cand.basis)):
                if basis is None:
                    continue
                h = self.evaluate(basis)
                if h is not None and h.z >= strong and (out := self.decode(h)) is not None:
                    return out
        if self.best.z < 6.0:
            for cand in _detect.lattices(self.w, limit=_detect.ACF_CANDIDATES):
                self.evaluate(cand.basis)
        if self.best.z < 5.0:
            return None
        if (out := self.decode(self.best)) is not None:
            return out
        if self.best.z >= 6.0:
            before = self.best
            self.refine()
            if self.best is not before:
                return self.decode(self.best)
        return None
