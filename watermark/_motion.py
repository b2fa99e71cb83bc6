"""Global translation between consecutive video frames (video profile v2).

The v2 video mark moves with the content: the embedder and the detector both follow the
dominant translation of the picture from one frame to the next (``spec/watermark-video.md``
section 2.3). :class:`MotionTracker` estimates it by phase correlation of a decimated,
windowed luma plane, refined to a fraction of a pixel by a weighted least-squares fit of a
plane to the phase of the cross-power spectrum, and accumulates it into a position.

Convention: for consecutive frames ``a`` and ``b``, the step ``s = (dy, dx)`` is such that
``b(x) ~ a(x + s)`` (a camera panning right gives ``dx > 0``), and the position after frame
``t`` is the sum of the steps so far. A step is taken as 0 when the correlation peak is weak
(a cut, a zoom, motion in many directions) or the step is implausibly large.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["MotionTracker", "decimation", "estimate_step"]

_TARGET = 160.0
"""Shortest decimated side: the plane is decimated to a shorter side of 160-319 px."""
MIN_PEAK = 0.4
"""Smallest (smoothed) phase-correlation peak, as a share of a perfect translation's, taken
as a translation."""
MAX_STEP = 0.25
"""Largest step accepted, as a fraction of the decimated plane's side."""
REF_SPAN = 16
"""Planes measured against one reference plane before the last of them becomes the next."""
REF_STEP = 0.125
"""Step from the reference, as a share of a side, after which the plane becomes the next
reference (the overlap of the two stays above three quarters)."""
_PEAK_SIGMA = 1.0
"""Sigma (decimated px) of the smoothing of the phase-correlation surface."""
_REFINE_BAND = (0.08, 0.25)
"""Frequencies (cycles per decimated pixel) used by the sub-pixel phase-plane fit."""


def decimation(height: int, width: int) -> int:
    """Power-of-two factor that brings the shorter side to 160-319 px (at least 1)."""
    short = min(height, width)
    return int(2 ** max(0, math.floor(math.log2(short / _TARGET))))


@functools.lru_cache(maxsize=8)
def _window(h: int, w: int) -> NDArray[np.float32]:
    wy = np.hanning(h).astype(np.float32)
    wx = np.hanning(w).astype(np.float32)
    out: NDArray[np.float32] = wy[:, None] * wx[None, :]
    return out


@functools.lru_cache(maxsize=8)
def _freqs(h: int, w: int) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    fy = np.broadcast_to(np.fft.fftfreq(h)[:, None], (h, w // 2 + 1))
    fx = np.broadcast_to(np.fft.rfftfreq(w)[None, :], (h, w // 2 + 1))
    r = np.hypot(fy, fx)
    band = (r < _REFINE_BAND[1]) & (r > _REFINE_BAND[0])
    # Every other frequency on each axis is plenty for a fit of two unknowns.
    band[1::2] = False
    band[:, 1::2] = False
    return fy[band], fx[band], band


@functools.lru_cache(maxsize=8)
def _lowpass(h: int, w: int) -> tuple[NDArray[np.float32], float]:
    """Gaussian weights on the whitened cross spectrum (sigma 1 decimated px in space, which
    keeps noisy high frequencies out of the peak) and the peak they give a perfect
    translation."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    g = np.exp(-2.0 * np.pi**2 * _PEAK_SIGMA**2 * (fy * fy + fx * fx)).astype(np.float32)
    ideal = float(np.fft.irfft2(g, s=(h, w))[0, 0])
    return g, ideal


def spectrum(y: NDArray[Any], k: int) -> NDArray[np.complex64]:
    """Windowed spectrum of ``y`` block-averaged by ``k`` (the tracker's view of a frame)."""
    from scipy import fft as sfft  # measured start-up cost: SciPy loads slowly

    h, w = (y.shape[0] // k) * k, (y.shape[1] // k) * k
    # Block sums by strided adds (much faster in numpy than a 4-D mean); the scale does
    # not matter to a phase correlation.
    # uint8 planes are summed in uint16 (half the memory traffic; k <= 16 cannot overflow).
    acc = np.uint16 if y.dtype == np.uint8 and k <= 16 else np.float32
    rows: NDArray[Any] = y[0:h:k, :w].astype(acc)
    for i in range(1, k):
        rows += y[i:h:k, :w]
    sums: NDArray[Any] = rows[:, 0::k].copy()
    for i in range(1, k):
        sums += rows[:, i::k]
    a = sums.astype(np.float32)
    a -= a.mean(dtype=np.float32)
    out: NDArray[np.complex64] = sfft.rfft2(a * _window(*a.shape)).astype(np.complex64, copy=False)
    return out


def estimate_step(
    prev: NDArray[np.complex64], cur: NDArray[np.complex64], shape: tuple[int, int]
) -> tuple[float, float] | None:
    """Step ``(dy, dx)`` in decimated pixels from spectrum ``prev`` to ``cur``, or None.

    ``shape`` is the decimated plane's shape. None when the peak is weaker than
    :data:`MIN_PEAK` or the step longer than :data:`MAX_STEP` of a side.
    """
    from scipy import fft as sfft  # measured start-up cost: SciPy loads slowly

    cross = cur * np.conj(prev)
    mag = np.abs(cross)
    low, ideal = _lowpass(*shape)
    r = sfft.irfft2(cross / np.maximum(mag, 1e-9) * low, s=shape)
    peak = int(np.argmax(r))
    py, px = divmod(peak, shape[1])
    if float(r.flat[peak]) < MIN_PEAK * ideal:
        return None
    # The peak sits at -s (modulo the plane).
    iy = -(py - shape[0] if py > shape[0] // 2 else py)
    ix = -(px - shape[1] if px > shape[1] // 2 else px)
    if abs(iy) > MAX_STEP * shape[0] or abs(ix) > MAX_STEP * shape[1]:
        return None
    fy, fx, band = _freqs(*shape)
    # cur(f) = prev(f) exp(2 pi i f.s): remove the integer part, fit the rest.
    c = cross[band]
    phase = np.angle(c) - 2.0 * np.pi * (fy * iy + fx * ix)
    phase = (phase + np.pi) % (2.0 * np.pi) - np.pi
    wgt = mag[band]
    a = np.stack([fy, fx], axis=1) * (2.0 * np.pi)
    aw = a * wgt[:, None]
    sol = np.linalg.lstsq(aw.T @ a, aw.T @ phase, rcond=None)[0]
    dy, dx = float(sol[0]), float(sol[1])
    if abs(dy) > 1.0 or abs(dx) > 1.0:  # the fit failed; keep the integer step
        dy = dx = 0.0
    return iy + dy, ix + dx


class MotionTracker:
    """Accumulates the global translation of a sequence of luma planes of one size.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> big = rng.normal(128, 30, (400, 700)).astype(np.float32)
    >>> from scipy.ndimage import gaussian_filter
    >>> big = gaussian_filter(big, 2)
    >>> t = MotionTracker(300, 500)
    >>> for i in range(4):
    ...     pos = t.update(big[10 : 310, 5 * i : 5 * i + 500])
    >>> [round(v) for v in pos]
    [0, 15]
    """

    def __init__(self, height: int, width: int) -> None:
        self.k = decimation(height, width)
        self.shape = (height // self.k, width // self.k)
        self._ref: NDArray[np.complex64] | None = None
        self._prev: NDArray[np.complex64] | None = None
        self._ref_position = (0.0, 0.0)
        self._ref_age = 0
        self.position = (0.0, 0.0)
        """Position of the last plane relative to the first, in pixels of the full plane."""
        self.moved = False
        """Whether the position, rounded to whole pixels, was ever other than (0, 0)."""

    def update(self, y: NDArray[Any]) -> tuple[float, float]:
        """Take the next plane; return the position (dy, dx) in full-plane pixels.

        The step is measured from a *reference* plane, not from the previous one, so that
        the small error of each measurement does not add up plane by plane: the reference
        is renewed after :data:`REF_SPAN` planes, once the picture has moved by more than
        :data:`REF_STEP` of a side, and when no step can be measured from it; then the step
        is measured from the previous plane, and when that fails too the position stays
        where it was.
        """
        spec = spectrum(y, self.k)
        if self._ref is None or self._prev is None:
            self._renew(spec)
            self._prev = spec
            return self.position
        base = self._ref_position
        step = estimate_step(self._ref, spec, self.shape)
        self._ref_age += 1
        if step is None and self._ref_age > 1:
            # Too far from the reference (or a false peak): measure from the previous plane.
            base = self.position
            step = estimate_step(self._prev, spec, self.shape)
            self._ref_age = REF_SPAN
        self._prev = spec
        if step is None:
            self._renew(spec)
            return self.position
        self.position = (base[0] + step[0] * self.k, base[1] + step[1] * self.k)
        if round(self.position[0]) != 0 or round(self.position[1]) != 0:
            self.moved = True
        far = abs(step[0]) > REF_STEP * self.shape[0] or abs(step[1]) > REF_STEP * self.shape[1]
        if far or self._ref_age >= REF_SPAN:
            self._renew(spec)
        return self.position

    def _renew(self, spec: NDArray[np.complex64]) -> None:
        self._ref, self._ref_position, self._ref_age = spec, self.position, 0
