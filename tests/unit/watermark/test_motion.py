"""Global translation tracking of the v2 video mark (watermark._motion)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import fourier_shift, gaussian_filter

from watermark._motion import MotionTracker, decimation, estimate_step, spectrum


def _scene(seed: int = 0, shape: tuple[int, int] = (600, 900)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return gaussian_filter(rng.normal(128.0, 40.0, shape), 2.0).astype(np.float32)


@pytest.mark.parametrize(
    ("height", "width", "k"),
    [(256, 320, 1), (480, 854, 2), (720, 1280, 4), (1080, 1920, 4), (2160, 3840, 8)],
)
def test_decimation_brings_the_shorter_side_to_160_to_319(height: int, width: int, k: int) -> None:
    assert decimation(height, width) == k


@pytest.mark.parametrize("step", [(0.0, 0.0), (3.0, -7.0), (0.4, 1.6), (-2.25, 0.75)])
def test_a_subpixel_translation_is_measured_to_a_tenth_of_a_pixel(
    step: tuple[float, float],
) -> None:
    a = _scene()[:300, :400]
    # b(x) = a(x + step): the content moves by -step, as when the camera moves by +step.
    b = np.fft.ifft2(fourier_shift(np.fft.fft2(a), (-step[0], -step[1]))).real.astype(np.float32)
    a, b = a[20:280, 20:380], b[20:280, 20:380]
    got = estimate_step(spectrum(a, 1), spectrum(b, 1), a.shape)
    assert got is not None
    assert got == pytest.approx(step, abs=0.1)


def test_a_pan_is_tracked_over_many_frames_without_drift() -> None:
    big = _scene(1)
    tracker = MotionTracker(360, 640)
    for t in range(31):
        pos = tracker.update(big[2 * t : 2 * t + 360, 5 * t : 5 * t + 640])
    assert tracker.moved
    assert pos == pytest.approx((60.0, 150.0), abs=1.0)


def test_unrelated_frames_and_a_still_scene_give_no_step() -> None:
    a, b = _scene(2)[:300, :400], _scene(3)[:300, :400]
    assert estimate_step(spectrum(a, 1), spectrum(b, 1), a.shape) is None
    tracker = MotionTracker(300, 400)
    for _ in range(3):
        assert tracker.update(a.astype(np.uint8)) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert not tracker.moved
