"""Tile geometry and the keyed layout of cells (spec sections 3 and 4).

A tile is a square of ``GRID x GRID`` = 64 x 64 cells. A keyed permutation of the 4096 cells
makes the first ``N_SYNC`` = 1024 cells *sync* cells (known chips, used for the presence
test and translation search) and the remaining 3072 *data* cells, data cell ``i`` (in
permutation order) carrying coded bit ``i mod 204``. Every cell also has a keyed chip +-1.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from watermark import _ecc, _keys

__all__ = [
    "GRID",
    "FOLD",
    "BASE_TILE",
    "N_SYNC",
    "Layout",
    "layout",
    "cell_size",
    "analysis_factor",
    "video_cell_size",
]

GRID = 64
"""Cells per tile side."""
FOLD = 2 * GRID
"""Bins per tile side of a folded tile (2 x 2 bins per cell)."""
BASE_TILE = 128
"""Tile side in pixels for images whose shorter side is at most ~724 pixels."""
N_SYNC = 1024
"""Number of sync cells per tile."""
N_TEMPLATE = 12
"""Number of template sinusoids per tile."""
TEMPLATE_ENERGY = 0.2
"""Share of the pattern energy given to the template."""


_TEMPLATE_WORDS = 4096


def _template(key: bytes) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Keyed template: N_TEMPLATE integer frequencies, radius 12-22 cycles/tile, one per
    15-degree sector of the half plane, avoiding the axes and the JPEG lines (|k| = 16)."""
    words = _keys.stream_u64(key, "template", _TEMPLATE_WORDS)
    unit = (words >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    freqs: list[tuple[int, int]] = []
    pos = 0
    for sector in range(N_TEMPLATE):
        while True:
            if pos + 1 >= _TEMPLATE_WORDS:  # probability far below 1e-100
                raise ValueError("this key yields no valid template; use another key")
            radius = 12.0 + 10.0 * unit[pos]
            angle = np.pi * (sector + 0.15 + 0.7 * unit[pos + 1]) / N_TEMPLATE
            pos += 2
            ky, kx = round(radius * np.sin(angle)), round(radius * np.cos(angle))
            if abs(ky) >= 3 and abs(kx) >= 3 and 16 not in (abs(ky), abs(kx)):
                break
        freqs.append((ky, kx))
    phases = 2.0 * np.pi * unit[40 : 40 + N_TEMPLATE]
    return np.array(freqs, dtype=np.int64), phases


def cell_size(height: int, width: int) -> int:
    """Cell side in pixels for an image of this size: ``2 * 2**k``, ``k = round(log2(s/512))``.

    ``s`` is the shorter side and ``k`` is clamped at 0, so the tile side is 128 px up to a
    shorter side of ~724 px, 256 px at 1080p, 512 px at 4K.
    """
    return 2 * analysis_factor(height, width)


def analysis_factor(height: int, width: int) -> int:
    """Integer power-of-two factor that brings the shorter side near 512 px (at least 1)."""
    short = min(height, width)
    return int(2 ** max(0, round(math.log2(short / 512.0))))


def video_cell_size(height: int, width: int) -> int:
    """Cell side in pixels of the *video* profile: twice :func:`cell_size`.

    8 px at 1080p, 4 px up to a shorter side of ~724 px, 16 px at 4K. Cells as large as the
    8 x 8 transform of a video codec keep the mark in the low-frequency coefficients that a
    re-encode at a low bit rate still codes. The detector's analysis factor is the picture
    profile's, so a frame of the marked size shows cells of 4 analysis pixels (a tile twice
    the nominal size of the picture profile).
    """
    return 2 * cell_size(height, width)


@dataclass(frozen=True)
class Layout:
    """The keyed layout of one key (all arrays are read-only)."""

    chips: NDArray[np.float32]
    """Chip +-1 per cell, shape (GRID, GRID)."""
    sync_index: NDArray[np.intp]
    """Flat cell indices (row * GRID + col) of the sync cells, shape (N_SYNC,)."""
    data_index: NDArray[np.intp]
    """Flat cell indices of the data cells, shape (GRID**2 - N_SYNC,)."""
    data_bit: NDArray[np.intp]
    """Coded-bit number carried by each data cell (aligned with ``data_index``)."""
    whiten: NDArray[np.uint8]
    """Keyed bits XORed onto the info word."""
    template: NDArray[np.int64]
    """Template frequencies (ky, kx) in cycles per tile, shape (N_TEMPLATE, 2)."""
    phases: NDArray[np.float64]
    """Template phases in radians, shape (N_TEMPLATE,)."""


@functools.lru_cache(maxsize=16)
def layout(key: bytes) -> Layout:
    """Return the keyed :class:`Layout` of ``key`` (bytes, already validated)."""
    order = np.argsort(_keys.stream_u64(key, "layout", GRID * GRID), kind="stable")
    chip_words = _keys.stream_u64(key, "chips", GRID * GRID)
    chips = np.where((chip_words >> np.uint64(63)) == 0, 1.0, -1.0).astype(np.float32)
    data_index = order[N_SYNC:].astype(np.intp)
    data_bit = (np.arange(data_index.size) % _ecc.CODED_BITS).astype(np.intp)
    template, phases = _template(key)
    out = Layout(
        chips=chips.reshape(GRID, GRID),
        sync_index=np.sort(order[:N_SYNC]).astype(np.intp),
        data_index=data_index,
        data_bit=data_bit,
        whiten=_keys.stream_bits(key, "whiten", _ecc.INFO_BITS),
        template=template,
        phases=phases,
    )
    for arr in (
        out.chips,
        out.sync_index,
        out.data_index,
        out.data_bit,
        out.whiten,
        out.template,
        out.phases,
    ):
        arr.setflags(write=False)
    return out
