"""provenance.media.imagefile: the file adapter of the watermark, usable from scripts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

import watermark
from provenance.media.imagefile import ImageFileError, detect_file, embed_file, read_image

ICC = b"\x00" * 128  # Pillow stores the profile bytes as given


def _photo(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x0131] = "Test Camera Firmware"  # Software
    # 512 px: at the 256 px minimum the mark has little margin (see the README's shortfalls)
    Image.fromarray(data.astronaut()).save(path, quality=95, exif=exif, icc_profile=ICC)
    return path


def test_round_trip_keeps_metadata_and_reads_back(tmp_path: Path) -> None:
    src = _photo(tmp_path / "in.jpg")
    out = tmp_path / "out.jpg"
    result = embed_file(src, out, b"AGENCY01", watermark.PUBLIC_KEY)
    assert result.output == out and 39.5 <= result.psnr <= 41.0
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == ICC
        assert im.getexif()[0x0131] == "Test Camera Firmware"
    found = detect_file(out, watermark.PUBLIC_KEY)
    assert found.found and found.payload == b"AGENCY01"
    assert not detect_file(src, watermark.PUBLIC_KEY).found


def test_never_overwrites_without_force(tmp_path: Path) -> None:
    src = _photo(tmp_path / "in.jpg")
    before = src.read_bytes()
    with pytest.raises(ImageFileError, match="is the input"):
        embed_file(src, src, b"x", "k")
    assert src.read_bytes() == before
    other = tmp_path / "taken.png"
    other.write_bytes(b"keep me")
    with pytest.raises(ImageFileError, match="exists") as info:
        embed_file(src, other, b"x", "k")
    assert info.value.code == "exists" and other.read_bytes() == b"keep me"
    embed_file(src, other, b"x", "k", force=True)
    assert read_image(other).pixels.shape == read_image(src).pixels.shape


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", r"is empty \(0 bytes\)"), (b"hello", "not a picture"), (None, "no such file")],
)
def test_unreadable_inputs_have_one_line_reasons(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "in.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageFileError, match=message):
        detect_file(path, "k")


def test_unknown_output_extension_writes_nothing(tmp_path: Path) -> None:
    src = _photo(tmp_path / "in.jpg")
    with pytest.raises(ImageFileError) as info:
        embed_file(src, tmp_path / "out.notaformat", b"x", "k")
    assert info.value.code == "unknown_output_format"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jpg"]


def test_alpha_is_kept_for_png(tmp_path: Path) -> None:
    rgba = np.dstack([data.astronaut()[::2, ::2], np.full((256, 256), 200, np.uint8)])
    src = tmp_path / "in.png"
    Image.fromarray(rgba, "RGBA").save(src)
    embed_file(src, tmp_path / "out.png", b"a", "k")
    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == "RGBA" and np.all(np.asarray(im)[..., 3] == 200)
