"""The numeric video watermark: embed_frames / detect_frames, the luma-plane engines, errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from video_clips import moving_frames

import watermark
from watermark._video import LumaEvidence, LumaMarker, VideoDetection, luma_psnr

KEY = "video-unit-key"
PAYLOAD = b"\x01\x23\x45\x67\x89\xab\xcd\xef"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def clip(photo: Callable[..., np.ndarray]) -> list[np.ndarray]:
    return list(moving_frames(photo("coffee", 512), 320, 256, 24, motion="pan"))


@pytest.fixture(scope="module")
def marked(clip: list[np.ndarray]) -> list[np.ndarray]:
    return list(watermark.embed_frames(clip, PAYLOAD, KEY))


def test_every_frame_is_marked_at_the_target_psnr(
    clip: list[np.ndarray], marked: list[np.ndarray]
) -> None:
    assert len(marked) == len(clip)
    for before, after in zip(clip, marked, strict=True):
        assert after.shape == before.shape and after.dtype == np.uint8
        assert 40.0 <= psnr(before, after) < 41.0
        # The mark is in luma: every channel moves by the same amount (up to clipping).
        d = after.astype(np.int16) - before.astype(np.int16)
        inside = np.all((before > 30) & (before < 225), axis=-1)
        assert np.all(np.ptp(d[inside], axis=-1) <= 1)


def test_round_trip_over_the_sequence(marked: list[np.ndarray]) -> None:
    result = watermark.detect_frames(marked, KEY)
    assert isinstance(result, watermark.Detection) and isinstance(result, VideoDetection)
    assert result.found and result.payload == PAYLOAD and result.p_value < 1e-20
    assert result.frames_used == len(marked)
    assert watermark.detect_frames(iter(marked), KEY, max_frames=3).frames_used == 3


def test_unmarked_sequence_and_wrong_key_are_not_detected(
    clip: list[np.ndarray], marked: list[np.ndarray]
) -> None:
    for frames, key in ((clip, KEY), (marked, "another key")):
        result = watermark.detect_frames(frames, key)
        assert not result.found and result.payload is None and result.p_value > 1e-6


def test_evidence_too_weak_in_one_frame_adds_up_over_many(
    photo: Callable[..., np.ndarray],
) -> None:
    # The v2 mark moves with the pan and the detector sums the frames aligned on the
    # tracked motion: the content adds up with the mark, the sensor noise averages out.
    clip = moving_frames(photo("coffee", 512), 480, 384, 24, motion="pan")
    marked = list(watermark.embed_frames(clip, PAYLOAD, KEY))
    rng = np.random.default_rng(7)
    noisy = [
        np.clip(np.rint(m + rng.normal(0.0, 20.0, m.shape)), 0, 255).astype(np.uint8)
        for m in marked
    ]
    assert not watermark.detect_frames(noisy[:1], KEY).found
    result = watermark.detect_frames(noisy, KEY)
    assert result.found and result.payload == PAYLOAD


def _shift_of(residual: np.ndarray, reference: np.ndarray, span: int = 12) -> tuple[int, int]:
    """The integer shift s maximising the correlation of residual(x) with reference(x + s)."""
    h, w = residual.shape
    best, arg = -np.inf, (0, 0)
    core = residual[span : h - span, span : w - span]
    for dy in range(-span, span + 1):
        for dx in range(-span, span + 1):
            ref = reference[span + dy : h - span + dy, span + dx : w - span + dx]
            c = float(np.sum(core * ref))
            if c > best:
                best, arg = c, (dy, dx)
    return arg


def test_the_v2_mark_moves_with_the_content(photo: Callable[..., np.ndarray]) -> None:
    # moving_frames crops a 400 x 320 enlargement at integer offsets: the content of frame t
    # is frame 0's moved by the pan; the v2 mark moves the same way, so x264 predicts it.
    frames = list(moving_frames(photo("coffee", 512), 320, 256, 9, motion="pan"))
    out = list(watermark.embed_frames(frames, PAYLOAD, KEY))
    d = [
        o.astype(np.float32)[..., 1] - f.astype(np.float32)[..., 1]
        for o, f in zip(out, frames, strict=True)
    ]
    # Frame t shows the enlargement from (4 t, 10 t): its residual is frame 0's read there.
    for t in (1, 2, 4):
        dy, dx = _shift_of(d[t], d[0], span=42)
        assert abs(dy - 4 * t) <= 1 and abs(dx - 10 * t) <= 1


def test_the_v2_residual_is_moved_exactly_so_an_encoder_predicts_it(
    photo: Callable[..., np.ndarray],
) -> None:
    # 9 frames of a pan by whole pixels (4 down, 10 right per frame): between redraws the
    # rounded residual of frame t is frame t-1's moved by the step, pixel for pixel, so a
    # motion-compensated prediction of the marked frame is exact.
    frames = list(moving_frames(photo("coffee", 512), 320, 256, 9, motion="pan"))
    planes = [
        np.rint(f.astype(np.float32) @ [0.299, 0.587, 0.114]).astype(np.uint8) for f in frames
    ]
    marker = LumaMarker(KEY, PAYLOAD, 256, 320, limited_range=False)
    residuals = []
    for plane in planes:
        before = plane.copy()
        marker.mark(plane)
        assert 40.0 <= luma_psnr(before, plane, limited_range=False) <= 40.5
        residuals.append(plane.astype(np.int16) - before)
    exact = 0
    for t in range(1, len(planes)):
        now, then = residuals[t][20:-20, 20:-20], residuals[t - 1][24:-16, 30:-10]
        inside = (planes[t][20:-20, 20:-20] > 8) & (planes[t][20:-20, 20:-20] < 247)
        exact += bool(np.array_equal(now[inside], then[inside]))
    assert exact >= len(planes) - 2


def test_the_fixed_video_profile_revision_2_is_still_read(
    clip: list[np.ndarray],
) -> None:
    # Frames marked with the fixed pattern of video profile revision 2 (format v1).
    marker = LumaMarker(KEY, PAYLOAD, 256, 320, limited_range=False, follow_motion=False)
    marked = []
    for frame in clip:
        x = frame.astype(np.float32)
        y = np.clip(np.rint(x @ np.float32([0.299, 0.587, 0.114])), 0, 255).astype(np.uint8)
        marked.append(np.clip(x + marker.residual(y)[..., None] + 0.5, 0, 255).astype(np.uint8))
    # Fixed in the frame: the residual of a pan is the same pattern in every frame.
    d0 = marked[0].astype(np.float32)[..., 1] - clip[0][..., 1]
    d5 = marked[5].astype(np.float32)[..., 1] - clip[5][..., 1]
    assert _shift_of(d5, d0) == (0, 0)
    result = watermark.detect_frames(marked, KEY)
    assert result.found and result.payload == PAYLOAD and result.frames_used == len(clip)


def test_static_scene_has_the_same_mark_in_every_frame(photo: Callable[..., np.ndarray]) -> None:
    still = list(moving_frames(photo("astronaut", 512), 320, 256, 5, motion="static"))
    out = list(watermark.embed_frames(still, PAYLOAD, KEY))
    residual = [o.astype(np.int16) - s.astype(np.int16) for o, s in zip(out, still, strict=True)]
    assert np.any(residual[0])
    for r in residual[1:]:
        assert np.array_equal(r, residual[0])


def test_frame_size_may_change_between_frames(clip: list[np.ndarray]) -> None:
    frames = [clip[0], clip[1][:, :288], clip[2]]
    out = list(watermark.embed_frames(frames, PAYLOAD, KEY))
    assert [o.shape for o in out] == [f.shape for f in frames]
    result = watermark.detect_frames(out, KEY)
    assert result.found and result.payload == PAYLOAD and result.frames_used == 2


def test_limited_range_luma_plane_marker_and_evidence(clip: list[np.ndarray]) -> None:
    planes = [
        np.rint(16 + np.asarray(f, np.float32) @ [0.299, 0.587, 0.114] * 219 / 255).astype(np.uint8)
        for f in clip[:8]
    ]
    marker = LumaMarker(KEY, PAYLOAD, 256, 320, psnr=42.0, limited_range=True)
    ev = LumaEvidence(KEY)
    for plane in planes:
        before = plane.copy()
        view = np.zeros((256, 352), np.uint8)[:, :320]  # a strided view, as in a video frame
        view[...] = plane
        marker.mark(view)
        assert 42.0 <= luma_psnr(before, view, limited_range=True) < 43.0
        assert view.min() >= 0 and view.max() <= 255
        ev.add(view)
    result = ev.result()
    assert result.found and result.payload == PAYLOAD and result.frames_used == 8


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([np.zeros((256, 256), np.uint8)], "(H, W, 3) uint8"),
        ([np.zeros((256, 256, 3), np.float32)], "(H, W, 3) uint8"),
        ([np.zeros((200, 256, 3), np.uint8)], "both sides must be >= 256"),
        (["not a frame"], "numpy array"),
    ],
)
def test_embed_frames_rejects_bad_frames(frames: list[object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(watermark.embed_frames(frames, PAYLOAD, KEY))  # type: ignore[arg-type]


def test_embed_frames_rejects_bad_options_before_iterating() -> None:
    with pytest.raises(ValueError, match="at most 8 bytes"):
        watermark.embed_frames([], b"123456789", KEY)
    with pytest.raises(ValueError, match="psnr"):
        watermark.embed_frames([], PAYLOAD, KEY, psnr=70)
    with pytest.raises(ValueError, match="key"):
        watermark.embed_frames([], PAYLOAD, "")


def test_detect_frames_rejects_bad_input(clip: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match="no frames"):
        watermark.detect_frames([], KEY)
    with pytest.raises(ValueError, match="max_frames"):
        watermark.detect_frames(clip, KEY, max_frames=0)
    with pytest.raises(ValueError, match=">= 128"):
        watermark.detect_frames([np.zeros((100, 300, 3), np.uint8)], KEY)
    with pytest.raises(ValueError, match="dtype"):
        watermark.detect_frames([np.zeros((256, 256, 3), np.int32)], KEY)


def test_marker_rejects_a_plane_of_another_size() -> None:
    marker = LumaMarker(KEY, PAYLOAD, 256, 320)
    with pytest.raises(ValueError, match="marker is for 320x256"):
        marker.mark(np.zeros((256, 300), np.uint8))
    with pytest.raises(ValueError, match="2-D uint8"):
        marker.mark(np.zeros((256, 320), np.float32))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("height", "width", "cell"),
    [
        (256, 320, 4),
        (480, 854, 4),
        (720, 1280, 4),
        (1080, 1920, 8),
        (1440, 2560, 8),
        (2160, 3840, 16),
    ],
)
def test_video_profile_cells_are_twice_the_picture_profile(
    height: int, width: int, cell: int
) -> None:
    from watermark import _layout

    assert _layout.video_cell_size(height, width) == cell == 2 * _layout.cell_size(height, width)


def test_marker_pattern_is_the_picture_pattern_with_doubled_cells() -> None:
    from watermark import _embed, _keys

    raw = _keys.key_bytes(KEY)
    marker = LumaMarker(KEY, PAYLOAD, 256, 320, limited_range=False)
    p = _embed.plan(raw, PAYLOAD, 256, 320, cell=4)
    pattern = marker._pattern4.reshape(marker._buf.shape)[:256, :320]
    np.testing.assert_array_equal(pattern, p.pattern)
    # Tile of 64 cells of 4 px: the pattern repeats every 256 px and not every 128 px.
    assert np.allclose(p.pattern[:, :64], p.pattern[:, 256:320])
    assert not np.allclose(p.pattern[:, :64], p.pattern[:, 128:192])


def test_geometry_of_an_unscaled_sequence_is_the_identity(marked: list[np.ndarray]) -> None:
    g = watermark.detect_frames(marked, KEY).geometry
    assert g is not None
    assert g.scale == pytest.approx(1.0, abs=0.01) and g.aspect == pytest.approx(1.0, abs=0.01)
    assert abs(g.rotation) < 0.5 and not g.flipped


def test_an_enlarged_copy_beyond_the_picture_profiles_search_range_is_read(
    photo: Callable[..., np.ndarray],
) -> None:
    from PIL import Image

    # 512 x 640 frames get 4 px cells: a tile of 256 analysis pixels (2 x the picture tile).
    # Enlarged 1.38 x, the frame keeps analysis factor 1, so the tile is 2.76 x the picture
    # tile: beyond the 2.5 x that the picture detector's template search covers.
    frames = list(moving_frames(photo("coffee", 1024), 640, 512, 6, motion="pan"))
    marked = list(watermark.embed_frames(frames, PAYLOAD, KEY))
    big = [
        np.asarray(Image.fromarray(m).resize((883, 706), Image.Resampling.BICUBIC)) for m in marked
    ]
    result = watermark.detect_frames(big, KEY)
    assert result.found and result.payload == PAYLOAD
    assert result.geometry is not None and result.geometry.scale == pytest.approx(1.38, abs=0.02)


def test_one_pass_of_evidence_can_be_searched_for_several_keys(marked: list[np.ndarray]) -> None:
    ev = LumaEvidence("another key")
    for frame in marked:
        ev.add(np.asarray(frame, np.float32) @ np.float32([0.299, 0.587, 0.114]))
    assert not ev.result().found and ev.result().payload is None
    hit = ev.result(KEY)
    assert hit.found and hit.payload == PAYLOAD and hit.frames_used == len(marked)
    with pytest.raises(ValueError):
        ev.result(b"")
