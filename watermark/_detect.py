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
4. **Decision** (:func:`decide`): the presence bound ``M exp(-z^2/2)`` (Hoeffding over the
   key's chips, union over all ``M`` hypotheses) combined with the keyed CRC check of the
   Viterbi-decoded payload (:func:`decode`).

Video detectors accumulate evidence across frames: compute one lattice per shot, call
:func:`fold` per frame and sum the folds (weighted by their counts), then call
:func:`sync_scores`, :func:`decode` and :func:`decide` once on the accumulated fold. The
bound stays valid because the hypothesis count does not depend on the number of frames.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from watermark import _ecc, _layout
from watermark._embed import luma

__all__ = [
    "ALPHA",
    "MAX_LATTICES",
    "MAX_DECODES",
    "HYPOTHESES",
    "Candidate",
    "analysis_image",
    "prefilter",
    "lattices",
    "fold",
    "orientations",
    "sync_scores",
    "decode",
    "p_presence",
    "p_value",
    "threshold",
    "ORIENTATION_MATRICES",
]

ALPHA = 1e-6
"""Bound on the false-alarm probability at the decision threshold."""
MAX_LATTICES = 32
"""Most lattice hypotheses the detector evaluates per image (counted in full in the bound)."""
MAX_DECODES = 8
"""Most payload decodes (CRC checks) per image."""
HYPOTHESES = MAX_LATTICES * 8 * _layout.FOLD * _layout.FOLD
"""``M``: lattices x orientations x cyclic shifts."""
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
        return float(min(1.0, 2.0 * MAX_DECODES * _CRC_P * pz))
    return float(min(1.0, 2.0 * pz))


def threshold() -> float:
    """The sync score at which ``p_value(z, crc_ok=False) == ALPHA``."""
    return math.sqrt(2.0 * math.log(2.0 * HYPOTHESES / ALPHA))


def analysis_image(image: NDArray[np.float32]) -> tuple[NDArray[np.float32], int]:
    """Luma (0..255) block-averaged by the analysis factor; returns (luma, factor)."""
    y = luma(image)
    f = _layout.analysis_factor(*y.shape)
    if f > 1:
        h, w = (y.shape[0] // f) * f, (y.shape[1] // f) * f
        y = y[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3), dtype=np.float32)
    return np.ascontiguousarray(y, dtype=np.float32), f


def prefilter(y: NDArray[np.float32]) -> NDArray[np.float32]:
    """Band-pass (difference of Gaussians 0.6/2.5 px) then divide by the local RMS (6 px)."""
    from scipy.ndimage import gaussian_filter

    band = gaussian_filter(y, 0.6) - gaussian_filter(y, 2.5)
    energy = gaussian_filter(band * band, 6.0)
    out = band / np.sqrt(energy + 1.0)
    return np.asarray(out - out.mean(), dtype=np.float32)


@dataclass(frozen=True)
class Candidate:
    """A lattice hypothesis: columns of ``basis`` are the tile vectors (dy, dx) in pixels."""

    basis: NDArray[np.float64]
    """2x2 matrix; ``p = basis @ u`` maps tile coordinates (0..1) to analysis pixels."""
    source: str
    """Where the hypothesis came from: ``nominal``, ``acf``, ``snap`` or ``refine``."""


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
    """Candidate tile lattices from the autocorrelation of the prefiltered image ``w``."""
    from scipy.ndimage import maximum_filter

    acf = _acf(w)
    h, wd = acf.shape
    cy, cx = h // 2, wd // 2
    rmin, rmax = 40.0, 0.55 * min(h, wd)
    yy, xx = np.mgrid[0:h, 0:wd]
    dy, dx = yy - cy, xx - cx
    r = np.hypot(dy, dx)
    half = (dy > 0) | ((dy == 0) & (dx > 0))
    peaks = (acf == maximum_filter(acf, size=5, mode="wrap")) & half & (r >= rmin) & (r <= rmax)
    peaks &= acf > 0
    iy, ix = np.nonzero(peaks)
    if iy.size < 2:
        return []
    vals = acf[iy, ix]
    top = np.argsort(vals)[::-1][:14]
    vec = np.stack([dy[iy[top], ix[top]], dx[iy[top], ix[top]]], axis=1).astype(np.float64)
    val = vals[top]

    def at(v: NDArray[np.float64]) -> float:
        return (
            float(acf[int(round(v[0])) % h + 0, int(round(v[1])) % wd])
            if False
            else float(acf[(int(round(v[0])) + cy) % h, (int(round(v[1])) + cx) % wd])
        )

    scored: list[tuple[float, NDArray[np.float64]]] = []
    for i in range(len(vec)):
        for j in range(i + 1, len(vec)):
            a, b = vec[i], vec[j]
            la, lb = math.hypot(*a), math.hypot(*b)
            ratio = la / lb
            cos = abs(float(a @ b)) / (la * lb)
            if not (0.6 <= ratio <= 1.67) or cos > 0.45:
                continue
            s = float(val[i] + val[j]) + 0.5 * (at(a + b) + at(a - b))
            scored.append((s, _reduce(a, b)))
    scored.sort(key=lambda t: -t[0])
    out: list[Candidate] = []
    for _, basis in scored:
        if any(_same(basis, c.basis) for c in out):
            continue
        out.append(Candidate(basis=_refine(acf, basis), source="acf"))
        if len(out) >= limit:
            break
    return out


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
    """Fold ``w`` onto one tile of ``FOLD x FOLD`` bins; returns (sums, counts)."""
    n = _layout.FOLD
    h, wd = w.shape
    inv = np.linalg.inv(basis) * n
    ys = np.arange(h, dtype=np.float64)[:, None]
    xs = np.arange(wd, dtype=np.float64)[None, :]
    u0 = np.floor(inv[0, 0] * ys + inv[0, 1] * xs).astype(np.int64) % n
    u1 = np.floor(inv[1, 0] * ys + inv[1, 1] * xs).astype(np.int64) % n
    idx = (u0 * n + u1).ravel()
    sums = np.bincount(idx, weights=w.ravel(), minlength=n * n).reshape(n, n).astype(np.float64)
    counts = np.bincount(idx, minlength=n * n).reshape(n, n).astype(np.float64)
    return sums, counts


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


def cell_sums(folded: NDArray[np.float64]) -> NDArray[np.float64]:
    """``a(x) = g(x) + g(x+e0) + g(x+e1) + g(x+e0+e1)`` (cyclic) over the last two axes."""
    s = folded + np.roll(folded, -1, axis=-1)
    return np.asarray(s + np.roll(s, -1, axis=-2))


def sync_scores(folded: NDArray[np.float64], key: bytes) -> NDArray[np.float64]:
    """Sync z-scores, shape (8, FOLD, FOLD): orientation x cyclic shift."""
    a = cell_sums(orientations(folded))
    sc, si = _sync_spectra(key)
    c = np.fft.irfft2(np.fft.rfft2(a) * sc, s=a.shape[-2:])
    v = np.fft.irfft2(np.fft.rfft2(a * a) * si, s=a.shape[-2:])
    return np.asarray(c / np.sqrt(np.maximum(v, 1e-12)))


def decode(
    folded: NDArray[np.float64], key: bytes, orientation: int, shift: tuple[int, int]
) -> bytes | None:
    """Viterbi-decode the payload at one hypothesis; ``None`` if the keyed CRC fails."""
    n = _layout.FOLD
    lay = _layout.layout(key)
    a = cell_sums(orientations(folded)[orientation])
    r, c = np.divmod(lay.data_index, _layout.GRID)
    vals = a[(2 * r + shift[0]) % n, (2 * c + shift[1]) % n] * lay.chips.reshape(-1)[lay.data_index]
    soft = np.bincount(lay.data_bit, weights=vals, minlength=_ecc.CODED_BITS).astype(np.float64)
    info = _ecc.viterbi(soft) ^ lay.whiten
    return _ecc.parse_info(info)
