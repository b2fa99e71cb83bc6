"""Embedding building blocks (spec sections 6 and 7).

The mark is additive in luma: every colour channel receives the same residual
``d = alpha * mask * pattern``. The pattern depends only on the key, the payload and the frame
size, so a video embedder computes it once with :func:`plan` and then, per frame, calls
:func:`residual` (which recomputes only the perceptual mask, at cell resolution) and adds it::

    p = plan(key, payload, height, width)
    for frame in frames:                      # uint8 (H, W, 3)
        marked = apply(frame, p, psnr=40.0)

:func:`apply` is exactly what :func:`watermark.embed` does after validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from watermark import _ecc, _layout

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "PROFILE_NAMES",
    "Plan",
    "plan",
    "tile_cells",
    "render_tile",
    "luma",
    "mask",
    "residual",
    "apply",
]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Plan:
    """A precomputed watermark pattern for one key, payload and frame size."""

    height: int
    """Frame height in pixels."""
    width: int
    """Frame width in pixels."""
    cell: int
    """Cell side in pixels."""
    pattern: NDArray[np.float32]
    """Unit-RMS pattern over the frame, shape (height, width)."""
    energy: NDArray[np.float64]
    """Sum of ``pattern**2`` over each cell-sized block, shape (ceil(H/cell), ceil(W/cell))."""


def tile_cells(key: bytes, payload: bytes) -> NDArray[np.float32]:
    """Cell values (+-1) of one tile, shape (GRID, GRID): chip, times the coded bit sign on data."""
    lay = _layout.layout(key)
    info = _ecc.info_bits(payload) ^ lay.whiten
    coded = _ecc.conv_encode(info).astype(np.float32) * 2.0 - 1.0
    values = lay.chips.reshape(-1).copy()
    values[lay.data_index] *= coded[lay.data_bit]
    return values.reshape(_layout.GRID, _layout.GRID)


def render_tile(
    cells: NDArray[np.float32], cell: int, template: NDArray[np.float32] | None = None
) -> NDArray[np.float32]:
    """Upsample cell values to pixels and low-pass them with a periodic Gaussian (sigma cell/2).

    Returns a unit-RMS tile of shape (GRID * cell, GRID * cell). With a unit-RMS ``template``
    of the same shape, the result is ``sqrt(1 - e) * tile + sqrt(e) * template`` (``e`` =
    TEMPLATE_ENERGY), renormalised to unit RMS.
    """
    up = np.kron(cells, np.ones((cell, cell), dtype=np.float32))
    n = up.shape[0]
    f = np.fft.fftfreq(n).astype(np.float32)
    sigma = cell / 2.0
    g = np.exp(-2.0 * (np.pi * sigma) ** 2 * f**2).astype(np.float32)
    tile = np.fft.irfft2(np.fft.rfft2(up) * g[:, None] * g[None, : n // 2 + 1], s=up.shape)
    tile = tile.astype(np.float32)
    tile = tile / np.sqrt(np.mean(tile**2))
    if template is not None:
        e = _layout.TEMPLATE_ENERGY
        tile = np.sqrt(1.0 - e) * tile + np.sqrt(e) * template
        tile = tile / np.sqrt(np.mean(tile**2))
    out: NDArray[np.float32] = tile.astype(np.float32)
    return out


def render_template(key: bytes, size: int) -> NDArray[np.float32]:
    """The keyed template over one tile of ``size`` px: a unit-RMS sum of sinusoids."""
    lay = _layout.layout(key)
    t = np.arange(size, dtype=np.float64) / size
    # Equivalent to: sum_i cos(2 pi (ky_i y + kx_i x) / size + phase_i)
    phase_y = 2.0 * np.pi * lay.template[:, 0, None] * t[None, :]  # (n, size)
    phase_x = 2.0 * np.pi * lay.template[:, 1, None] * t[None, :] + lay.phases[:, None]
    wave = np.einsum("iy,ix->yx", np.cos(phase_y), np.cos(phase_x)) - np.einsum(
        "iy,ix->yx", np.sin(phase_y), np.sin(phase_x)
    )
    out: NDArray[np.float32] = (wave / np.sqrt(np.mean(wave**2))).astype(np.float32)
    return out


def plan(key: bytes, payload: bytes, height: int, width: int, *, cell: int | None = None) -> Plan:
    """Precompute the pattern for ``key``/``payload`` on a ``height x width`` frame.

    ``cell`` (a power of two) overrides the picture profile's :func:`_layout.cell_size`.
    """
    if cell is None:
        cell = _layout.cell_size(height, width)
    size = _layout.GRID * cell
    tile = render_tile(tile_cells(key, payload), cell, render_template(key, size))
    t = tile.shape[0]
    reps = (-(-height // t), -(-width // t))
    pattern = np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
    energy = _block_sum(pattern * pattern, cell, pad="constant")
    return Plan(height=height, width=width, cell=cell, pattern=pattern, energy=energy)


def luma(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """BT.601 luma of an (H, W, 3) image, or the image itself if grey (H, W).

    Equivalent to ``image @ [0.299, 0.587, 0.114]``.
    """
    if image.ndim == 2:
        return image
    return np.asarray(image @ _LUMA, dtype=np.float32)


def _block_sum(y: NDArray[np.float32], b: int, *, pad: str = "edge") -> NDArray[np.float64]:
    """Sums over b x b blocks (the last partial blocks padded with ``pad``)."""
    h, w = y.shape
    hp, wp = -(-h // b) * b, -(-w // b) * b
    if (hp, wp) != (h, w):
        y = np.pad(y, ((0, hp - h), (0, wp - w)), mode=pad)  # type: ignore[call-overload]
    # b strided adds per axis: much faster in numpy than a reduction over a short axis.
    cols = y[:, 0::b].astype(np.float32)
    for k in range(1, b):
        cols += y[:, k::b]
    out = cols[0::b].copy()
    for k in range(1, b):
        out += cols[k::b]
    return out.astype(np.float64)


def _block_mean(y: NDArray[np.float32], b: int) -> NDArray[np.float32]:
    return (_block_sum(y, b) / float(b * b)).astype(np.float32)


PROFILES: dict[str, float] = {"robust": 0.0, "subtle": 0.8}
"""Embedder profiles (spec section 7): the texture exponent of the perceptual mask. ``robust``
(embedder revision 2, the default) spreads the energy evenly over mid-tones, where the
detector's noise is lowest; ``subtle`` (embedder revision 1) hides it in texture."""
DEFAULT_PROFILE = "robust"
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)
"""The profile names, default first."""


def mask(y: NDArray[np.float32], cell: int, texture: float = 0.0) -> NDArray[np.float32]:
    """Perceptual mask at cell resolution (shape ceil(H/cell) x ceil(W/cell)), luma in 0..255.

    ``m = (sigma + 3)**texture * clip(mu/40, 0.3, 1) * clip((255-mu)/40, 0.3, 1)``, with the
    local mean ``mu`` and standard deviation ``sigma`` taken in a Gaussian window of 1.5 cells
    and the result smoothed over one cell: less energy in dark and bright areas and, with a
    positive ``texture`` exponent, more in texture than in flat areas.
    """
    from scipy.ndimage import gaussian_filter

    yb = _block_mean(y, cell)
    mu = gaussian_filter(yb, 1.5, mode="nearest")
    lum = np.clip(mu / 40.0, 0.3, 1.0) * np.clip((255.0 - mu) / 40.0, 0.3, 1.0)
    m = lum
    if texture != 0.0:
        e2 = gaussian_filter(_block_mean(y * y, cell), 1.5, mode="nearest")
        sigma = np.sqrt(np.maximum(e2 - mu * mu, 0.0))
        m = (sigma + 3.0) ** texture * lum
    return np.asarray(gaussian_filter(m, 1.0, mode="nearest"), dtype=np.float32)


def residual(
    y: NDArray[np.float32],
    p: Plan,
    *,
    psnr: float,
    quantised: bool,
    profile: str = DEFAULT_PROFILE,
) -> NDArray[np.float32]:
    """Luma residual ``alpha * mask * pattern`` scaled to the target PSNR (luma in 0..255).

    ``quantised`` subtracts the rounding noise of uint8 output (1/12) from the error budget;
    ``profile`` names the mask's texture exponent (:data:`PROFILES`).
    """
    m = mask(y, p.cell, PROFILES[profile])
    budget = 255.0**2 / 10.0 ** ((psnr + 0.05) / 10.0) - (1.0 / 12.0 if quantised else 0.0)
    # mean(d^2) before scaling, from the per-block pattern energy (the mask is blockwise).
    energy = float(np.sum(m.astype(np.float64) ** 2 * p.energy)) / (p.height * p.width)
    alpha = np.float32(np.sqrt(max(budget, 1e-6) / max(energy, 1e-12)))
    scaled = m * alpha
    full = np.repeat(np.repeat(scaled, p.cell, axis=0), p.cell, axis=1)[: p.height, : p.width]
    return np.asarray(full * p.pattern, dtype=np.float32)


def apply(
    image: NDArray[np.generic], p: Plan, *, psnr: float, profile: str = DEFAULT_PROFILE
) -> NDArray[np.generic]:
    """Add the watermark to a validated uint8 or float32 image of ``p``'s size."""
    if image.dtype == np.uint8:
        y = image.astype(np.float32) if image.ndim == 2 else np.matmul(image, _LUMA)
        d = np.rint(residual(y, p, psnr=psnr, quantised=True, profile=profile)).astype(np.int16)
        acc = image.astype(np.int16)
        acc += d[..., None] if image.ndim == 3 else d
        np.clip(acc, 0, 255, out=acc)
        res: NDArray[np.generic] = acc.astype(np.uint8)
        return res
    x = np.asarray(image, dtype=np.float32) * np.float32(255.0)
    df = residual(luma(x), p, psnr=psnr, quantised=False, profile=profile)
    out = x + (df[..., None] if image.ndim == 3 else df)
    resf: NDArray[np.generic] = np.clip(out / np.float32(255.0), 0.0, 1.0).astype(np.float32)
    return resf
