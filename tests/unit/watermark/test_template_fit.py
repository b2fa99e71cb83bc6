"""The template map fit of the detector (spec section 8, detector revision 2)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from watermark import _detect, _layout

SHAPE = (512, 512)
KEY = b"fit-test-key"


def _map(scale: float, angle: float, aspect: float = 1.0, mirror: bool = False) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    g = np.array([[c, s], [-s, c]]) @ np.diag([1.0, 1.0 / aspect]) / (_layout.BASE_TILE * scale)
    return g @ np.diag([1.0, -1.0]) if mirror else g


@settings(max_examples=40, deadline=None)
@given(
    scale=st.floats(0.4, 2.0),
    angle=st.floats(-0.25, 0.25),
    mirror=st.booleans(),
    n=st.integers(5, 12),
    drift=st.floats(-0.03, 0.03),
)
def test_similarity_recovered_with_an_outlier(
    scale: float, angle: float, mirror: bool, n: int, drift: float
) -> None:
    k = _layout.layout(KEY).template.astype(np.float64)[:n]
    truth = _map(scale, angle, mirror=mirror)
    f = k @ truth.T
    f[0] += 4.0 / SHAPE[0]  # one peak 4 bins off
    start = _map(scale * (1 + drift), angle + drift, mirror=mirror)  # the log-polar estimate
    fitted = _detect._fit_map(k, f, start, SHAPE)
    err = np.abs((k[1:] @ fitted.T - k[1:] @ truth.T) * SHAPE[0]).max()
    assert err < 0.05  # bins, on the peaks that were right


def test_general_map_for_an_aspect_change() -> None:
    k = _layout.layout(KEY).template.astype(np.float64)
    truth = _map(1.0, 0.1, aspect=0.8)
    start = _map(1.0, 0.1)  # a similarity cannot explain a 20 % aspect change
    fitted = _detect._fit_map(k, k @ truth.T, start, SHAPE)
    assert np.allclose(fitted, truth, atol=1e-9)
