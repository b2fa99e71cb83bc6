"""Shared host images for the watermark tests (scikit-image's bundled photos, 256-512 px)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))


@functools.cache
def _photo(name: str, size: int = 512) -> np.ndarray:
    """A scikit-image photo, centre-cropped to a square and resized to ``size``."""
    import skimage.data
    from PIL import Image

    a = getattr(skimage.data, name)()
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    h, w = a.shape[:2]
    s = min(h, w)
    a = a[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.LANCZOS))


@pytest.fixture(scope="session")
def photo() -> Callable[..., np.ndarray]:
    """``photo(name, size=512)``: a cached scikit-image photo as uint8 RGB."""
    return _photo


@pytest.fixture(scope="session")
def texture() -> np.ndarray:
    """A generated 256x256 RGB texture."""
    y, x = np.mgrid[0:256, 0:256]
    grey = np.rint(128 + 60 * np.sin(x / 9) * np.cos(y / 13)).astype(np.uint8)
    return np.stack([grey, grey[::-1], grey.T], axis=-1)
