"""Thumbnails: data: URIs at most 320 px wide; blur leaves nothing recognisable."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from testkit import encode, picture, tiny_mp4

from provenance.render.thumbnails import (
    MAX_WIDTH,
    Thumbnails,
    blur_beyond_recognition,
    file_thumbnail,
)


def _decode(uri: str) -> Image.Image:
    prefix = "data:image/jpeg;base64,"
    assert uri.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :]))).convert("RGB")


def _checkerboard(width: int, height: int, cell: int = 16) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    board = (((x // cell) + (y // cell)) % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.stack([board] * 3, axis=-1))


@pytest.mark.parametrize(("width", "height"), [(1600, 900), (500, 2000), (64, 48)])
def test_full_thumbnail_is_at_most_320_px(tmp_path: Path, width: int, height: int) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(encode(picture(width, height), "JPEG", quality=90))
    im = _decode(file_thumbnail(path, Thumbnails.FULL) or "")
    assert im.width <= MAX_WIDTH and im.height <= MAX_WIDTH
    assert im.width == min(width, round(width * min(1, MAX_WIDTH / max(width, height))))


def test_full_thumbnail_keeps_the_picture(tmp_path: Path) -> None:
    path = tmp_path / "board.png"
    path.write_bytes(encode(_checkerboard(320, 240), "PNG"))
    im = np.asarray(_decode(file_thumbnail(path, Thumbnails.FULL) or ""), dtype=float)
    original = np.asarray(_checkerboard(320, 240), dtype=float)
    assert np.abs(im - original).mean() < 10


def test_blur_leaves_no_detail(tmp_path: Path) -> None:
    board = _checkerboard(1200, 800, cell=40)
    path = tmp_path / "board.png"
    path.write_bytes(encode(board, "PNG"))
    blurred = np.asarray(_decode(file_thumbnail(path, Thumbnails.BLUR) or ""), dtype=float)
    sharp = np.asarray(_decode(file_thumbnail(path, Thumbnails.FULL) or ""), dtype=float)
    assert blurred.shape == sharp.shape
    # The sharp thumbnail alternates black and white; the blurred one is a flat grey wash.
    assert sharp.std() > 100
    assert blurred.std() < 12
    # Neighbouring pixels barely differ: no edge is left to recognise anything by.
    assert np.abs(np.diff(blurred, axis=1)).max() < 8


def test_blur_keeps_only_rough_colours() -> None:
    left_red = np.zeros((200, 320, 3), np.uint8)
    left_red[:, :160] = (220, 30, 30)
    left_red[:, 160:] = (30, 30, 220)
    out = np.asarray(blur_beyond_recognition(Image.fromarray(left_red)), dtype=float)
    assert out[:, :40, 0].mean() > out[:, :40, 2].mean()
    assert out[:, -40:, 2].mean() > out[:, -40:, 0].mean()


def test_png_with_alpha_is_flattened(tmp_path: Path) -> None:
    path = tmp_path / "alpha.png"
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(path)
    im = _decode(file_thumbnail(path, Thumbnails.FULL) or "")
    assert np.asarray(im).mean() > 240  # transparent becomes white, not black


@pytest.mark.video
def test_video_gives_a_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(tiny_mp4(frames=3, width=64, height=48))
    im = _decode(file_thumbnail(path, Thumbnails.FULL, media_type="video/mp4") or "")
    assert im.size == (64, 48)


def test_none_and_undecodable_give_no_thumbnail(tmp_path: Path) -> None:
    good = tmp_path / "p.jpg"
    good.write_bytes(encode(picture(), "JPEG"))
    assert file_thumbnail(good, Thumbnails.NONE) is None
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert file_thumbnail(bad, Thumbnails.FULL) is None
    assert file_thumbnail(tmp_path / "missing.jpg", Thumbnails.FULL) is None
    assert file_thumbnail(bad, Thumbnails.FULL, media_type="video/mp4") is None
