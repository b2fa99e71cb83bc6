"""Detection building blocks (spec sections 8-10).

The detector works on an *analysis image*: luma, block-averaged by a power of two so that its
shorter side is near 512 px, band-pass filtered and locally normalised (:func:`prefilter`).

1. **Lattice hypotheses** (:func:`lattices`): the mark is periodic, so the whitened power
   spectrum of the analysis image has its energy on the (affinely transformed) reciprocal tile
   lattice, and its autocorrelation peaks on the tile lattice. Pairs of autocorrelation peaks
   give candidate bases (any scale, rotation, aspect change or shear), refined by least squares
   over the lattice points. The nominal (untransformed) lattice is always tried first.
2. **Fold** (:func:`fold`): every analysis pixel is mapped to canonical tile coordinates
   ``u = B^-1 p mod 1`` and averaged into ``FOLD x FOLD`` bins with one ``np.bincount``.
3. **Sync statistics** (:func:`sync_scores`): for the 8 dihedral orientations (flips, quarter
   turns) and every cyclic shift ``d``, ``C(d) = sum_sync chip_j a_j(d)`` and
   ``V(d) = sum_sync a_j(d)^2`` are FFT correlations, where ``a_j(d)`` is the sum of the 2x2
   bins of cell ``j``; ``z = C / sqrt(V)``.
4. **Decision** (:func:`p_value`): the presence bound ``M exp(-z^2/2)`` (Hoeffding over the
   key's chips, union over all ``M`` hypotheses) combined with the keyed CRC check of the
   Viterbi-decoded payload (:func:`decode`).

The video detector (:mod:`watermark._video`) sums the prefiltered analysis images of many
frames and runs steps 1-4 once on the sum. The bound stays valid because the sum does not
depend on the key and the hypothesis count does not depend on the number of frames.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from watermark import _ecc, _layout
from watermark._embed import luma

__all__ = [
    "ALPHA",
    "MAX_TILE_SCALE",
    "MAX_LATTICES",
    "MAX_DECODES",
    "HYPOTHESES",
    "REACHABLE_LATTICES",
    "TEMPLATE_CANDIDATES",
    "ACF_CANDIDATES",
    "REFINE_MOVES",
    "LIST_SIZE",
    "CRC_TRIALS",
    "crc_threshold",
    "Candidate",
    "analysis_image",
    "prefilter",
    "lattices",
    "fold",
    "orientations",
    "sync_scores",
    "best_sync",
    "decode",
    "p_presence",
    "p_value",
    "threshold",
    "ORIENTATION_MATRICES",
]

MAX_TILE_SCALE = 2.5
"""Largest tile, in multiples of ``BASE_TILE`` analysis pixels, that the picture detector's
template search looks for (the video detector looks further)."""
ALPHA = 1e-6
"""Bound on the false-alarm probability at the decision threshold."""
MAX_LATTICES = 32
"""Most lattice hypotheses the detector evaluates per image."""
TEMPLATE_CANDIDATES = 6
"""Template hypotheses per image (each also tried snapped to an integer square lattice)."""
ACF_CANDIDATES = 2
"""Autocorrelation hypotheses per image."""
REFINE_MOVES = 6
"""Neighbours per hill-climbing round (two rounds)."""
_STAGE1 = 1 + 2 * TEMPLATE_CANDIDATES + ACF_CANDIDATES
REACHABLE_LATTICES = (
    _STAGE1 + _STAGE1 * REFINE_MOVES + (_STAGE1 + _STAGE1 * REFINE_MOVES) * REFINE_MOVES
)
"""Every lattice the detector *could* evaluate for some chips (735): the union bound runs over
all of them, because which ones are evaluated depends on the scores."""
MAX_DECODES = 2
"""Most hypotheses whose payload is decoded per image."""
LIST_SIZE = 256
"""Paths kept by the list Viterbi decoder; each is one CRC trial."""
_SHORT_LIST = 4
"""Paths tried first (the common case, 30 times cheaper than the full list)."""
CRC_TRIALS = MAX_DECODES * LIST_SIZE
"""``L``: most CRC checks per image."""
HYPOTHESES = REACHABLE_LATTICES * 8 * _layout.FOLD * _layout.FOLD
"""``M``: reachable lattices x orientations x cyclic shifts."""
_CRC_P = 2.0**-_ecc.CRC_BITS


def p_presence(z: float) -> float:
    """Union (Hoeffding) bound ``min(1, M exp(-z^2/2))`` for the best sync score ``z``."""
    if z <= 0:
        return 1.0
    return float(min(1.0, HYPOTHESES * math.exp(-0.5 * z * z)))


def p_value(z: float, crc_ok: bool) -> float:
    """Combined bound: ``min(1, 2 min(p_z, p_crc))`` with ``p_crc = L 2^-24 p_z`` if a CRC held."""
    pz = p_presence(z)
    if crc_ok:
        return float(min(1.0, 2.0 * CRC_TRIALS * _CRC_P * pz))
    return float(min(1.0, 2.0 * pz))


def threshold() -> float:
    """The sync score at which ``p_value(z, crc_ok=False) == ALPHA``."""
    return math.sqrt(2.0 * math.log(2.0 * HYPOTHESES / ALPHA))


@functools.lru_cache(maxsize=1)
def crc_threshold() -> float:
    """The sync score below which ``p_value(z, crc_ok=True) > ALPHA`` (6.71): decoding a
    hypothesis that scores less cannot lead to a detection."""
    pz = ALPHA / (2.0 * CRC_TRIALS * _CRC_P)
    return math.sqrt(2.0 * math.log(HYPOTHESES / pz))


def analysis_image(image: NDArray[np.float32]) -> tuple[NDArray[np.float32], int]:
    """Luma (0..255) block-averaged by the analysis factor; returns (luma, factor)."""
    y = luma(image)
    f = _layout.analysis_factor(*y.shape)
    if f > 1:
        h, w = (y.shape[0] // f) * f, (y.shape[1] // f) * f
        y = y[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3), dtype=np.float32)
    return np.ascontiguousarray(y, dtype=np.float32), f


def _gauss_transfer(shape: tuple[int, int], sigma: float) -> NDArray[np.float32]:
    fy = np.fft.fftfreq(shape[0]).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    return np.exp(-2.0 * (np.pi * sigma) ** 2 * (fy * fy + fx * fx)).astype(np.float32)


_WEIGHT_POWER = 0.6
"""Exponent of the local energy in the weighting (detector revision 2; was 0.8)."""
_BAND = (0.3, 1.5)
"""Sigmas (px) of the difference-of-Gaussians band-pass: wide enough upwards to keep the
cells of a mark downscaled to ~1 px per cell."""
_ENERGY_SIGMA = 2.0
"""Sigma (px) of the local energy window: short, so that edges weigh down only their
immediate neighbourhood."""


def prefilter(y: NDArray[np.float32]) -> NDArray[np.float32]:
    """Band-pass (difference of Gaussians 0.3/1.5 px), then weight by the local energy (2 px).

    The Gaussians are applied in the DFT domain (periodic boundary), so the cost is four
    real FFTs of the analysis image.
    """
    from scipy import fft as sfft

    shape = (y.shape[0], y.shape[1])
    spec = sfft.rfft2(y - y.mean(dtype=np.float32))
    band = sfft.irfft2(
        spec * (_gauss_transfer(shape, _BAND[0]) - _gauss_transfer(shape, _BAND[1])), s=shape
    ).astype(np.float32)
    energy = sfft.irfft2(sfft.rfft2(band * band) * _gauss_transfer(shape, _ENERGY_SIGMA), s=shape)
    mu = sfft.irfft2(spec * _gauss_transfer(shape, 4.0), s=shape) + y.mean(dtype=np.float32)
    lum = np.clip(mu / 40.0, 0.3, 1.0) * np.clip((255.0 - mu) / 40.0, 0.3, 1.0)
    out = band * lum / (np.maximum(energy, 0.0) + 1.0) ** _WEIGHT_POWER
    return np.asarray(out - out.mean(), dtype=np.float32)


@dataclass(frozen=True)
class Candidate:
    """A lattice hypothesis: columns of ``basis`` are the tile vectors (dy, dx) in pixels."""

    basis: NDArray[np.float64]
    """2x2 matrix; ``p = basis @ u`` maps tile coordinates (0..1) to analysis pixels."""
    source: str
    """Where the hypothesis came from: ``nominal``, ``acf``, ``snap`` or ``refine``."""
    strength: float = 0.0
    """For template hypotheses: the log-polar correlation peak in robust standard deviations
    above the median of the searched correlation surface."""


def max3(a: NDArray[Any], axes: tuple[int, ...], *, wrap: bool) -> NDArray[Any]:
    """3-wide maximum filter along ``axes``, periodic (``wrap``) or with the edge repeated.

    Equals ``scipy.ndimage.maximum_filter`` with size 3 along ``axes`` (mode ``wrap``, or
    ``nearest``/``reflect``, which agree at size 3); applied twice it is the 5-wide filter.
    It is several times faster on the large arrays of the detector.
    """
    out = a
    for ax in axes:
        pad = [(0, 0)] * a.ndim
        pad[ax] = (1, 1)
        p = np.pad(out, pad, mode="wrap" if wrap else "edge")
        n = out.shape[ax]
        view = [slice(None)] * a.ndim
        parts = []
        for start in range(3):
            view[ax] = slice(start, start + n)
            parts.append(p[tuple(view)])
        out = np.maximum(np.maximum(parts[0], parts[1]), parts[2])
    return out


def _reduce(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lagrange-Gauss reduction of a 2-D lattice basis (loops a handful of times)."""
    for _ in range(16):
        if a @ a > b @ b:
            a, b = b, a
        mu = round(float(a @ b) / float(a @ a))
        if mu == 0:
            break
        b = b - mu * a
    return np.stack([a, b], axis=1)


def _acf(w: NDArray[np.float32]) -> NDArray[np.float32]:
    from scipy import fft as sfft
    from scipy.ndimage import uniform_filter

    h, wd = w.shape
    spec = sfft.rfft2(w)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    smooth = uniform_filter(power, 9, mode=("wrap", "nearest"))
    white = np.minimum(power / (smooth + 1e-6), 20.0)
    fy = np.abs(np.fft.fftfreq(h))[:, None]
    fx = np.abs(np.fft.rfftfreq(wd))[None, :]
    # Notch the axes (image borders) and the 8-px block grid of JPEG/WebP.
    notch = (np.abs(fy * h) < 2.5) | (np.abs(fx * wd) < 2.5)
    for k in (1, 2, 3, 4):
        notch |= (np.abs(fy - k / 8.0) * h < 1.5) | (np.abs(fx - k / 8.0) * wd < 1.5)
    white[notch] = 0.0
    acf = sfft.irfft2(white, s=(h, wd)).astype(np.float32)
    return np.fft.fftshift(acf)


def _subpixel(acf: NDArray[np.float32], cy: int, cx: int) -> tuple[float, float, float]:
    h, w = acf.shape
    ym, y0, yp = acf[(cy - 1) % h, cx], acf[cy % h, cx], acf[(cy + 1) % h, cx]
    xm, xp = acf[cy % h, (cx - 1) % w], acf[cy % h, (cx + 1) % w]
    dy = 0.5 * (ym - yp) / (ym - 2 * y0 + yp) if (ym - 2 * y0 + yp) < 0 else 0.0
    dx = 0.5 * (xm - xp) / (xm - 2 * y0 + xp) if (xm - 2 * y0 + xp) < 0 else 0.0
    return cy + float(np.clip(dy, -0.5, 0.5)), cx + float(np.clip(dx, -0.5, 0.5)), float(y0)


def _refine(acf: NDArray[np.float32], basis: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least-squares fit of the basis to the autocorrelation peaks near ``n a + m b``."""
    h, w = acf.shape
    c = np.array([h // 2, w // 2], dtype=np.float64)
    rows, targets = [], []
    for n in range(-3, 4):
        for m in range(-3, 4):
            if n == 0 and m == 0:
                continue
            p = basis @ np.array([n, m], dtype=np.float64)
            if abs(p[0]) > h / 2 - 3 or abs(p[1]) > w / 2 - 3:
                continue
            iy, ix = int(round(p[0] + c[0])), int(round(p[1] + c[1]))
            win = acf[iy - 2 : iy + 3, ix - 2 : ix + 3]
            k = int(np.argmax(win))
            py, px, val = _subpixel(acf, iy - 2 + k // 5, ix - 2 + k % 5)
            if val <= 0:
                continue
            rows.append((n, m))
            targets.append((py - c[0], px - c[1]))
    if len(rows) < 3:
        return basis
    a = np.asarray(rows, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    sol, *_ = np.linalg.lstsq(a, t, rcond=None)
    return np.asarray(sol.T, dtype=np.float64)


def lattices(w: NDArray[np.float32], *, limit: int = 6) -> list[Candidate]:
    """Candidate tile lattices from the autocorrelation of the prefiltered image ``w``.

    Pairs of autocorrelation peaks (``a``, ``b``) of similar length and roughly orthogonal are
    scored by the *comb* statistic: the sum of the (3x3 max-filtered) autocorrelation over the
    lattice points ``n a + m b`` (``|n|, |m| <= 3``) inside the lag window, divided by the square
    root of their number. The best distinct lattices are refined by least squares.
    """
    acf = _acf(w)
    h, wd = acf.shape
    cy, cx = h // 2, wd // 2
    rmin, rmax = 36.0, 0.55 * min(h, wd)
    dy = np.arange(h)[:, None] - cy
    dx = np.arange(wd)[None, :] - cx
    r = np.hypot(dy, dx)
    half = (dy > 0) | ((dy == 0) & (dx > 0))
    local = max3(acf, (0, 1), wrap=True)
    peaks = (acf == max3(local, (0, 1), wrap=True)) & half & (r >= rmin) & (r <= rmax)
    peaks &= acf > 0
    iy, ix = np.nonzero(peaks)
    if iy.size < 2:
        return []
    top = np.argsort(acf[iy, ix])[::-1][:24]
    vec = np.stack([iy[top] - cy, ix[top] - cx], axis=1).astype(np.float64)
    i, j = np.triu_indices(len(vec), k=1)
    a, b = vec[i], vec[j]
    la, lb = np.hypot(a[:, 0], a[:, 1]), np.hypot(b[:, 0], b[:, 1])
    cos = np.abs(np.sum(a * b, axis=1)) / (la * lb)
    ok = (la / lb >= 0.6) & (la / lb <= 1.67) & (cos <= 0.45)
    a, b = a[ok], b[ok]
    if a.shape[0] == 0:
        return []
    nm = np.array([(n, m) for n in range(-3, 4) for m in range(-3, 4) if (n, m) > (0, 0)] + [])
    nm = nm[(nm[:, 0] > 0) | ((nm[:, 0] == 0) & (nm[:, 1] > 0))]
    # pts[p, q] = n_q a_p + m_q b_p  (equivalent to: np.einsum("q,pk->pqk", n, a) + ...)
    pts = nm[None, :, 0, None] * a[:, None, :] + nm[None, :, 1, None] * b[:, None, :]
    py, px = np.rint(pts[..., 0]).astype(np.int64), np.rint(pts[..., 1]).astype(np.int64)
    inside = (np.abs(py) < h // 2 - 1) & (np.abs(px) < wd // 2 - 1)
    inside &= np.hypot(py, px) >= rmin * 0.8
    vals = np.where(inside, local[(py + cy) % h, (px + cx) % wd], 0.0)
    count = np.maximum(inside.sum(axis=1), 1)
    score = vals.sum(axis=1) / np.sqrt(count)
    order = np.argsort(score)[::-1]
    out: list[Candidate] = []
    for k in order[: 8 * limit]:
        basis = _reduce(a[k], b[k])
        if any(_same(basis, c.basis) for c in out):
            continue
        out.append(Candidate(basis=_refine(acf, basis), source="acf"))
        if len(out) >= limit:
            break
    return out


_LP_RADII = 96
_LP_ANGLES = 180
_LP_RHO = (0.03, 0.47)
_ASPECTS = (1.0, 0.8, 1.25)


def whitened_spectrum(w: NDArray[np.float32]) -> NDArray[np.float32]:
    """Magnitude spectrum of ``w`` (DC at the centre) divided by its local mean (15 bins)."""
    from scipy import fft as sfft
    from scipy.ndimage import uniform_filter

    mag = np.abs(np.fft.fftshift(sfft.fft2(w))).astype(np.float32)
    return np.asarray(mag / (uniform_filter(mag, 15, mode="wrap") + 1e-6), dtype=np.float32)


def _logpolar_grid(rho0: float) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    dl = math.log(_LP_RHO[1] / rho0) / (_LP_RADII - 1)
    rho = rho0 * np.exp(dl * np.arange(_LP_RADII))
    ang = np.pi * np.arange(_LP_ANGLES) / _LP_ANGLES
    return rho, ang, dl


def _template_image(k: NDArray[np.float64], dl: float, rho0: float) -> NDArray[np.float64]:
    """Log-polar rendering of template frequencies ``k`` (cycles/tile) at the nominal scale."""
    r = np.log(np.hypot(k[:, 0], k[:, 1]) / _layout.BASE_TILE / rho0) / dl
    a = (np.arctan2(k[:, 0], k[:, 1]) % np.pi) / (np.pi / _LP_ANGLES)
    ri = np.arange(_LP_RADII)[None, :]
    ai = np.arange(_LP_ANGLES)[None, :]
    gr = np.exp(-0.5 * ((ri - r[:, None]) / 0.8) ** 2)
    da = (ai - a[:, None] + _LP_ANGLES / 2) % _LP_ANGLES - _LP_ANGLES / 2
    ga = np.exp(-0.5 * (da / 0.8) ** 2)
    # Equivalent to: sum_i outer(gr[i], ga[i])
    return np.asarray(np.einsum("ir,ia->ra", gr, ga))


def _match_peaks(
    spec: NDArray[np.float32], k: NDArray[np.float64], g: NDArray[np.float64], radius: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Strongest spectrum peaks within ``radius`` bins of ``g @ k``; returns (k, f) matched."""
    h, wd = spec.shape
    f = k @ g.T
    cy, cx = f[:, 0] * h + h // 2, f[:, 1] * wd + wd // 2
    off = np.arange(-radius, radius + 1)
    yy = np.rint(cy)[:, None, None].astype(np.int64) + off[None, :, None]
    xx = np.rint(cx)[:, None, None].astype(np.int64) + off[None, None, :]
    yy, xx = np.broadcast_arrays(yy, xx)
    vals = spec[yy % h, xx % wd].reshape(len(k), -1)
    best = np.argmax(vals, axis=1)
    py = yy.reshape(len(k), -1)[np.arange(len(k)), best]
    px = xx.reshape(len(k), -1)[np.arange(len(k)), best]
    peak = vals[np.arange(len(k)), best]

    def sub(v0: NDArray[np.float32], vm: NDArray[np.float32], vp: NDArray[np.float32]) -> Any:
        den = vm - 2 * v0 + vp
        return np.where(
            den < 0, np.clip(0.5 * (vm - vp) / np.where(den < 0, den, -1), -0.5, 0.5), 0
        )

    v0 = spec[py % h, px % wd]
    fy = py + sub(v0, spec[(py - 1) % h, px % wd], spec[(py + 1) % h, px % wd])
    fx = px + sub(v0, spec[py % h, (px - 1) % wd], spec[py % h, (px + 1) % wd])
    keep = peak > 3.0
    fobs = np.stack([(fy - h // 2) / h, (fx - wd // 2) / wd], axis=1)
    return k[keep], fobs[keep]


def template_lattices(
    spec: NDArray[np.float32],
    key: bytes,
    *,
    limit: int = TEMPLATE_CANDIDATES,
    max_scale: float = MAX_TILE_SCALE,
) -> list[Candidate]:
    """Lattice hypotheses from the keyed template (log-polar match, then least-squares fit).

    The whitened magnitude spectrum is resampled on a log-polar grid and cross-correlated (FFT)
    with the rendered template for 3 aspect ratios and both mirror senses; every correlation
    peak gives a similarity (scale, rotation) that is refined to a general 2x2 map by fitting
    the template frequencies to the nearest spectrum peaks. Tiles of 0.3 to ``max_scale``
    times ``BASE_TILE`` analysis pixels are looked for (above ``MAX_TILE_SCALE`` the log-polar
    grid reaches down to lower frequencies, with the same number of radii).
    """
    rho0 = _LP_RHO[0] * min(1.0, MAX_TILE_SCALE / max_scale)
    lp, dl = _logpolar_spectrum(spec, rho0)
    base = _layout.layout(key).template.astype(np.float64)
    variants, tmpl = _template_variants(base, dl, rho0)
    corr, dr = _logpolar_correlation(lp, tmpl, dl, max_scale)
    peaks = corr == max3(max3(corr, (1, 2), wrap=True), (1, 2), wrap=True)
    peaks &= np.isfinite(corr)
    flat = np.flatnonzero(peaks)
    vals = corr.reshape(-1)[flat]
    order = flat[np.argsort(vals)[::-1][: 3 * limit]]
    surface = corr[np.isfinite(corr)]
    centre = float(np.median(surface))
    spread = 1.4826 * float(np.median(np.abs(surface - centre))) + 1e-12
    out: list[Candidate] = []
    for idx in order:
        v, ir, da = np.unravel_index(idx, corr.shape)
        k, aspect, mirror = variants[int(v)]
        scale = math.exp(-dl * float(dr[ir]))
        if not 0.3 <= scale <= max_scale:
            continue
        g = _refined_map(spec, base, _similarity(float(da), aspect, scale, mirror))
        if not plausible(g, inverse=True):
            continue
        basis = np.asarray(np.linalg.inv(g).T, dtype=np.float64)
        if any(
            _same(_reduce(basis[:, 0], basis[:, 1]), _reduce(c2.basis[:, 0], c2.basis[:, 1]))
            for c2 in out
        ):
            continue
        strength = (float(corr.reshape(-1)[idx]) - centre) / spread
        out.append(Candidate(basis=basis, source="template", strength=strength))
        if len(out) >= limit:
            break
    return out


def _logpolar_spectrum(spec: NDArray[np.float32], rho0: float) -> tuple[NDArray[np.float64], float]:
    """The spectrum resampled on the log-polar grid (clipped, each radius centred); the step."""
    from scipy.ndimage import map_coordinates  # measured start-up cost: SciPy loads slowly

    h, wd = spec.shape
    rho, ang, dl = _logpolar_grid(rho0)
    fy = rho[:, None] * np.sin(ang)[None, :]
    fx = rho[:, None] * np.cos(ang)[None, :]
    lp = map_coordinates(
        max3(spec, (0, 1), wrap=False), [fy * h + h // 2, fx * wd + wd // 2], order=1, mode="wrap"
    )
    lp = np.minimum(lp, 6.0)
    lp = lp - lp.mean(axis=1, keepdims=True)
    return lp, dl


def _template_variants(
    base: NDArray[np.float64], dl: float, rho0: float
) -> tuple[list[tuple[NDArray[np.float64], float, bool]], NDArray[np.float64]]:
    """The template for each aspect ratio and mirror sense, and its log-polar images."""
    variants: list[tuple[NDArray[np.float64], float, bool]] = []
    images = []
    for mirror in (False, True):
        for aspect in _ASPECTS:
            k = base * np.array([1.0, (-1.0 if mirror else 1.0) / aspect])
            variants.append((k, aspect, mirror))
            images.append(_template_image(k, dl, rho0))
    return variants, np.asarray(images)


def _logpolar_correlation(
    lp: NDArray[np.float64], tmpl: NDArray[np.float64], dl: float, max_scale: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """FFT cross-correlation of the spectrum with each template image over (radius, angle).

    Shifts outside the tile scales looked for are ``-inf``; also returns the radial shifts.
    """
    pad = np.zeros((2 * _LP_RADII, _LP_ANGLES))
    pad[:_LP_RADII] = lp
    tpad = np.zeros((len(tmpl), 2 * _LP_RADII, _LP_ANGLES))
    tpad[:, :_LP_RADII] = tmpl
    corr = np.fft.irfft2(
        np.fft.rfft2(pad)[None] * np.conj(np.fft.rfft2(tpad)), s=pad.shape
    )  # corr[v, dr, da] = sum lp(r + dr, a + da) tmpl_v(r, a)
    dr = np.arange(2 * _LP_RADII)
    dr = np.where(dr > _LP_RADII, dr - 2 * _LP_RADII, dr)
    valid = (dr >= math.log(1 / max_scale) / dl) & (dr <= math.log(1 / 0.3) / dl)
    corr[:, ~valid, :] = -np.inf
    return corr, dr


def _similarity(da: float, aspect: float, scale: float, mirror: bool) -> NDArray[np.float64]:
    """The 2x2 map of a log-polar peak: rotation, aspect ratio, scale, mirror."""
    theta = math.pi * da / _LP_ANGLES
    c, sn = math.cos(theta), math.sin(theta)
    g0 = np.array([[c, sn], [-sn, c]]) @ np.diag([1.0, 1.0 / aspect]) / (_layout.BASE_TILE * scale)
    if mirror:
        g0 = g0 @ np.diag([1.0, -1.0])
    return np.asarray(g0, dtype=np.float64)


def _refined_map(
    spec: NDArray[np.float32], base: NDArray[np.float64], g: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Refit ``g`` to the nearest spectrum peaks (radius 4, then 2) while it stays plausible."""
    for radius in (4, 2):
        km, fm = _match_peaks(spec, base, g, radius)
        if len(km) < 3:
            break
        sol = _fit_map(km, fm, g, spec.shape)
        if not plausible(sol, inverse=True):
            break
        g = sol
    return g


_GENERAL_FIT = 6
"""Matched template peaks needed to fit a general 2x2 map; with fewer, a similarity."""
_OUTLIER_BINS = 1.5
"""Matches further than this from the fitted map (in spectrum bins) are dropped once."""
_GENERAL_GAIN = 0.7
"""A general map replaces the similarity fit only if its RMS residual is this much lower."""


def _fit_map(
    k: NDArray[np.float64],
    f: NDArray[np.float64],
    g: NDArray[np.float64],
    shape: tuple[int, ...],
) -> NDArray[np.float64]:
    """Least-squares frequency map ``f = G k`` from matched template peaks.

    Fits ``G = Q g`` with ``Q`` a similarity (a correction of scale and rotation that keeps
    the aspect and mirror sense of the current map ``g``; two parameters), drops matches
    further than ``_OUTLIER_BINS`` from it and refits. With at least ``_GENERAL_FIT``
    matches a general 2x2 map is also fitted, and used if its RMS residual is below
    ``_GENERAL_GAIN`` times the similarity's (an aspect change or shear).
    """
    bins = np.array([shape[0], shape[1]], dtype=np.float64)

    def similarity(kk: NDArray[np.float64], ff: NDArray[np.float64]) -> NDArray[np.float64]:
        p = kk @ g.T  # Q = [[a, b], [-b, a]]: fy = a py + b px, fx = a px - b py
        rows = np.concatenate([p, np.stack([p[:, 1], -p[:, 0]], axis=1)])
        (a, b), *_ = np.linalg.lstsq(rows, np.concatenate([ff[:, 0], ff[:, 1]]), rcond=None)
        return np.asarray(np.array([[a, b], [-b, a]]) @ g, dtype=np.float64)

    def rms(m: NDArray[np.float64], kk: NDArray[np.float64], ff: NDArray[np.float64]) -> Any:
        return np.hypot(*((ff - kk @ m.T) * bins).T)

    sim = similarity(k, f)
    keep = rms(sim, k, f) <= _OUTLIER_BINS
    if 2 <= int(keep.sum()) < len(k):
        k, f = k[keep], f[keep]
        sim = similarity(k, f)
    if len(k) < _GENERAL_FIT:
        return sim
    sol, *_ = np.linalg.lstsq(k, f, rcond=None)
    gen = np.asarray(sol.T, dtype=np.float64)
    r_sim = float(np.sqrt(np.mean(rms(sim, k, f) ** 2)))
    r_gen = float(np.sqrt(np.mean(rms(gen, k, f) ** 2)))
    return gen if r_gen < _GENERAL_GAIN * r_sim else sim


def plausible(m: NDArray[np.float64], *, inverse: bool = False) -> bool:
    """Whether ``m`` (a basis, or with ``inverse`` a frequency map) is a usable tile lattice:
    finite, well conditioned (singular-value ratio below 3) and with tile vectors of 24 to
    2048 analysis pixels."""
    if not np.all(np.isfinite(m)):
        return False
    sv = np.linalg.svd(m, compute_uv=False)
    if sv[-1] <= 0 or sv[0] / sv[-1] > 3.0:
        return False
    lengths = 1.0 / sv[::-1] if inverse else sv
    return bool(24.0 <= lengths.min() and lengths.max() <= 2048.0)


def _same(a: NDArray[np.float64], b: NDArray[np.float64]) -> bool:
    """Whether two bases span the same lattice (up to signs and order), within 2 px."""
    for m in (b, b[:, ::-1]):
        if np.all(np.abs(np.abs(a) - np.abs(m)) < 2.0):
            return True
    return False


def snapped(basis: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """The nearest axis-aligned square lattice with integer period, if within 2 % and 0.5 deg."""
    lengths = np.hypot(basis[0], basis[1])
    period = float(round(lengths.mean()))
    if period <= 0 or np.any(np.abs(lengths - period) > 0.02 * period):
        return None
    angles = np.degrees(np.arctan2(basis[0], basis[1])) % 90.0
    if np.any(np.minimum(angles, 90.0 - angles) > 0.5):
        return None
    return np.diag([period, period]).astype(np.float64)


def fold(
    w: NDArray[np.float32], basis: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fold ``w`` onto one tile of ``FOLD x FOLD`` bins; returns (sums, counts).

    Bin of pixel ``p = (y, x)``: ``floor(FOLD * basis^-1 p) mod FOLD`` (FOLD is a power of two,
    so the modulo is a bitwise and, also for negative values).
    """
    n = _layout.FOLD
    h, wd = w.shape
    inv = (np.linalg.inv(basis) * n).astype(np.float32)
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(wd, dtype=np.float32)[None, :]
    u0 = np.floor(inv[0, 0] * ys + inv[0, 1] * xs).astype(np.int32)
    u1 = np.floor(inv[1, 0] * ys + inv[1, 1] * xs).astype(np.int32)
    idx = ((u0 & (n - 1)) << 7) | (u1 & (n - 1))
    flat = idx.ravel()
    sums = np.bincount(flat, weights=w.ravel(), minlength=n * n).reshape(n, n)
    counts = np.bincount(flat, minlength=n * n).reshape(n, n)
    return sums.astype(np.float64), counts.astype(np.float64)


def _orientation_sources() -> NDArray[np.float64]:
    """For each of the 8 orientations, the affine map x -> R x + t giving the source bin."""
    n = _layout.FOLD
    idx = np.indices((n, n)).astype(np.float64)  # (2, n, n) source coordinates
    out = []
    for o in range(8):
        src = np.stack([orientations(idx[0])[o], orientations(idx[1])[o]])
        base = src[:, 0, 0]
        r = np.stack([src[:, 1, 0] - base, src[:, 0, 1] - base], axis=1)
        out.append(np.concatenate([r, base[:, None]], axis=1))
    return np.asarray(out)


def orientations(f: NDArray[np.float64]) -> NDArray[np.float64]:
    """The 8 dihedral variants of a square array, stacked on a new first axis."""
    t = f.T
    return np.stack(
        [f, np.rot90(f, 1), np.rot90(f, 2), np.rot90(f, 3), t]
        + [np.rot90(t, 1), np.rot90(t, 2), np.rot90(t, 3)]
    )


ORIENTATION_MATRICES = _orientation_sources()
"""(8, 2, 3): orientation ``o`` reads fold bin ``R x + t`` at canonical bin ``x``."""


@functools.lru_cache(maxsize=16)
def _sync_spectra(key: bytes) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    n = _layout.FOLD
    lay = _layout.layout(key)
    chips = np.zeros((n, n))
    ind = np.zeros((n, n))
    r, c = np.divmod(lay.sync_index, _layout.GRID)
    chips[2 * r, 2 * c] = lay.chips.reshape(-1)[lay.sync_index]
    ind[2 * r, 2 * c] = 1.0
    return np.conj(np.fft.rfft2(chips)), np.conj(np.fft.rfft2(ind))


_RING = 0.35
_CLIP = 1.5


@functools.lru_cache(maxsize=1)
def _cell_filter() -> NDArray[np.complex128]:
    """Conjugate spectrum of the cell filter: the 2x2 cell minus ``_RING/3`` times its ring.

    The ring (the 12 bins around the cell) undoes part of the spreading of the band-pass
    prefilter and of the pattern's Gaussian low-pass.
    """
    n = _layout.FOLD
    h = np.zeros((n, n))
    for dy in range(-1, 3):
        for dx in range(-1, 3):
            inside = 0 <= dy < 2 and 0 <= dx < 2
            h[dy % n, dx % n] = 1.0 if inside else -_RING / 3.0
    return np.conj(np.fft.rfft2(h))


def cell_sums(folded: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cell statistic at every bin: ``a(x) = sum_k h(k) g(x + k)`` (cyclic, last two axes).

    ``h`` is 1 on the cell's 2x2 bins (k in {0,1}^2) and ``-0.35/3`` on the 12 bins around.
    """
    from scipy import fft as sfft

    shape = folded.shape[-2:]
    return np.asarray(sfft.irfft2(sfft.rfft2(folded) * _cell_filter(), s=shape))


@functools.lru_cache(maxsize=16)
def _oriented_sync_spectra(key: bytes) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    """Conjugate spectra of the sync chips and sync indicator pre-transformed by the inverse
    of each orientation: ``S_o(u) = S(R_o^T u)``, shape (8, FOLD, FOLD // 2 + 1) each."""
    n = _layout.FOLD
    lay = _layout.layout(key)
    r, c = np.divmod(lay.sync_index, _layout.GRID)
    pos = np.stack([2 * r, 2 * c])  # canonical bins x of the sync cells
    values = lay.chips.reshape(-1)[lay.sync_index]
    chips = np.zeros((8, n, n))
    ind = np.zeros((8, n, n))
    for o in range(8):
        rot = ORIENTATION_MATRICES[o, :, :2].astype(np.int64)
        u = (rot @ pos) % n  # S_o(R x) = S(x)
        chips[o, u[0], u[1]] = values
        ind[o, u[0], u[1]] = 1.0
    return np.conj(np.fft.rfft2(chips)), np.conj(np.fft.rfft2(ind))


@functools.lru_cache(maxsize=1)
def _orientation_index() -> NDArray[np.intp]:
    """Flat index maps: ``z_o(d) = Z_o[(R_o d + t_o - s_o) mod FOLD]``, shape (8, FOLD**2).

    ``Z_o`` correlates the un-oriented cell statistic with the pre-transformed sync pattern of
    orientation ``o``; ``s_o`` is the shift between the cell filter and its transform by
    ``R_o`` (the filter is symmetric about the cell centre, so a transform is a shift).
    """
    n = _layout.FOLD
    h = np.zeros((n, n))
    for dy in range(-1, 3):
        for dx in range(-1, 3):
            h[dy % n, dx % n] = 1.0 if (0 <= dy < 2 and 0 <= dx < 2) else -_RING / 3.0
    d = np.indices((n, n)).reshape(2, -1)
    out = []
    for o in range(8):
        rot = ORIENTATION_MATRICES[o, :, :2].astype(np.int64)
        t = ORIENTATION_MATRICES[o, :, 2].astype(np.int64)
        v = np.indices((n, n)).reshape(2, -1)
        h_rot = h[tuple((rot.T @ v) % n)].reshape(n, n)  # h'(v) = h(R^T v)
        shift = next(
            (sy, sx)
            for sy in range(-3, 4)
            for sx in range(-3, 4)
            if np.array_equal(h_rot, np.roll(h, (-sy, -sx), axis=(0, 1)))
        )  # h'(v) = h(v + s)
        e = (rot @ d + (t - np.asarray(shift))[:, None]) % n
        out.append(e[0] * n + e[1])
    return np.asarray(out, dtype=np.intp)


def _oriented_scores(folded: NDArray[np.float64], key: bytes) -> NDArray[np.float64]:
    """Sync z-scores before re-indexing, shape (8, FOLD**2): ``Z_o`` of
    :func:`_orientation_index` (19 real FFTs of the fold size, single precision)."""
    from scipy import fft as sfft

    n = _layout.FOLD
    spec = sfft.rfft2(folded) * _cell_filter()
    a = sfft.irfft2(spec, s=(n, n))
    sq = sfft.rfft2(a * a)
    sc, si = _oriented_sync_spectra(key)
    c = sfft.irfft2((spec[None] * sc).astype(np.complex64), s=(n, n)).reshape(8, -1)
    v = sfft.irfft2((sq[None] * si).astype(np.complex64), s=(n, n)).reshape(8, -1)
    return np.asarray(c / np.sqrt(np.maximum(v, 1e-12)), dtype=np.float64)


def sync_scores(folded: NDArray[np.float64], key: bytes) -> NDArray[np.float64]:
    """Sync z-scores, shape (8, FOLD, FOLD): orientation x cyclic shift.

    The cell statistic is computed once; each orientation correlates it with the sync
    pattern transformed by the inverse orientation (19 FFTs instead of 48), and the result is
    re-indexed to the shifts ``d`` of the oriented fold.
    """
    n = _layout.FOLD
    z = _oriented_scores(folded, key)
    return np.asarray(z[np.arange(8)[:, None], _orientation_index()].reshape(8, n, n))


def best_sync(folded: NDArray[np.float64], key: bytes) -> tuple[float, int, tuple[int, int]]:
    """The maximum of :func:`sync_scores` as (z, orientation, shift), without re-indexing
    the whole array."""
    n = _layout.FOLD
    z = _oriented_scores(folded, key)
    flat = int(np.argmax(z))
    o, e = divmod(flat, n * n)
    d = int(_orientation_inverse()[o, e])
    return float(z[o, e]), o, (d // n, d % n)


@functools.lru_cache(maxsize=1)
def _orientation_inverse() -> NDArray[np.intp]:
    """Inverse of the maps of :func:`_orientation_index`: the shift ``d`` (flat) of ``e``."""
    idx = _orientation_index()
    inv = np.empty_like(idx)
    inv[np.arange(8)[:, None], idx] = np.arange(idx.shape[1])[None, :]
    return inv


def _sync_scores_direct(folded: NDArray[np.float64], key: bytes) -> NDArray[np.float64]:
    """Reference for :func:`sync_scores`: every orientation folded and filtered separately."""
    from scipy import fft as sfft

    a = cell_sums(orientations(folded))
    sc, si = _sync_spectra(key)
    both = sfft.rfft2(np.stack([a, a * a]))
    c = sfft.irfft2(both[0] * sc, s=a.shape[-2:])
    v = sfft.irfft2(both[1] * si, s=a.shape[-2:])
    return np.asarray(c / np.sqrt(np.maximum(v, 1e-12)))


def _cell_values(
    a: NDArray[np.float64], index: NDArray[np.intp], shift: tuple[int, int]
) -> NDArray[np.float64]:
    """The cell statistic of the cells ``index`` (grid order) at fold offset ``shift``."""
    n = _layout.FOLD
    r, c = np.divmod(index, _layout.GRID)
    return np.asarray(a[(2 * r + shift[0]) % n, (2 * c + shift[1]) % n], dtype=np.float64)


def data_values(a: NDArray[np.float64], key: bytes, shift: tuple[int, int]) -> NDArray[np.float64]:
    """Soft data-cell values, combined over the 3 x 3 offsets around ``shift``.

    The fold has two bins per cell side, so a mark whose cells fall between bins spreads
    over neighbouring offsets. Each offset ``shift + e`` contributes its clipped values
    ``clip(chip_j a_j, -1.5 s, 1.5 s)`` weighted by ``max(z, 0)^2`` of its own sync statistic
    (spec section 9; detector revision 3): the sync cells measure how the cell's energy is
    spread, and the weights are the matched filter for that spread. The weights depend on the
    image and the sync chips only, so the CRC bound of section 10 is unchanged.
    """
    lay = _layout.layout(key)
    chips = lay.chips.reshape(-1)
    sync_chips = chips[lay.sync_index]
    data_chips = chips[lay.data_index]
    out = np.zeros(lay.data_index.size)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            e = (shift[0] + dy, shift[1] + dx)
            s = _cell_values(a, lay.sync_index, e)
            z = float(np.dot(sync_chips, s) / math.sqrt(max(float(np.dot(s, s)), 1e-12)))
            if z <= 0.0:
                continue
            vals = _cell_values(a, lay.data_index, e) * data_chips
            limit = _CLIP * float(np.std(vals))
            out += z * z * np.clip(vals, -limit, limit)  # robust to heavy host tails
    return out


def decode(
    folded: NDArray[np.float64], key: bytes, orientation: int, shift: tuple[int, int]
) -> bytes | None:
    """List-Viterbi-decode the payload at one hypothesis (``LIST_SIZE`` CRC trials).

    Returns the first path whose keyed CRC validates, or ``None``.
    """
    lay = _layout.layout(key)
    a = cell_sums(orientations(folded)[orientation])
    vals = data_values(a, key, shift)
    soft = np.bincount(lay.data_bit, weights=vals, minlength=_ecc.CODED_BITS).astype(np.float64)
    for size in (_SHORT_LIST, LIST_SIZE):  # the short list is a prefix of the long one
        for path in _ecc.list_viterbi(soft, size):
            payload = _ecc.parse_info(path ^ lay.whiten)
            if payload is not None:
                return payload
    return None
