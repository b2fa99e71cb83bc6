"""PDQ hashing: hex format, dihedral variants, quality gate, input handling."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image
from skimage import data

from provenance.errors import InputFileError
from provenance.matching.pdq import (
    DOWNSAMPLE,
    QUALITY_THRESHOLD,
    Hashed,
    NotHashable,
    PdqError,
    Variant,
    hash_array,
    hash_bytes,
    hash_file,
    hash_video,
    parse_hex,
)


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _hashed(array: np.ndarray) -> Hashed:
    result = hash_array(array)
    assert isinstance(result, Hashed)
    return result


def test_hex_is_pdqhash_bits_msb_first() -> None:
    image = data.astronaut()
    bits, quality = pdqhash.compute(image)
    expected = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()
    result = _hashed(image)
    assert result.hash.hex == expected
    assert result.hash.hex == result.hash.hex.lower() and len(result.hash.hex) == 64
    assert result.quality == quality == 100
    assert result.variants[0] == result.hash


@pytest.mark.parametrize(
    ("variant", "transform"),
    [
        (Variant.ROT90, lambda a: np.rot90(a, 1)),
        (Variant.ROT180, lambda a: np.rot90(a, 2)),
        (Variant.ROT270, lambda a: np.rot90(a, 3)),
        (Variant.FLIP_V, lambda a: a[::-1]),
        (Variant.FLIP_H, lambda a: a[:, ::-1]),
        (Variant.TRANSPOSE, lambda a: a.transpose(1, 0, 2)),
        (Variant.TRANSVERSE, lambda a: np.rot90(a, 2).transpose(1, 0, 2)),
    ],
)
def test_variant_k_is_the_hash_of_the_transformed_picture(variant: Variant, transform) -> None:
    image = data.chelsea()  # not square: rotations change the shape
    variants = _hashed(image).variants
    transformed = _hashed(np.ascontiguousarray(transform(image))).hash
    k = list(Variant).index(variant)
    distances = [transformed.distance(v) for v in variants]
    assert distances[k] <= 31
    assert min(d for i, d in enumerate(distances) if i != k) > 64


def test_flat_picture_is_not_hashable() -> None:
    result = hash_array(np.full((200, 300, 3), 128, dtype=np.uint8))
    assert isinstance(result, NotHashable)
    assert result.quality < QUALITY_THRESHOLD
    assert "not hashable" in result.reason and str(result.quality) in result.reason
    assert not result.hash.hashable


def test_array_and_png_bytes_hash_alike_including_downsampling(tmp_path: Path) -> None:
    big = np.asarray(Image.fromarray(data.coffee()).resize((1200, 800)))
    assert max(big.shape) > DOWNSAMPLE
    from_array = _hashed(big).hash
    path = tmp_path / "big.png"
    path.write_bytes(_png(big))
    from_file = hash_file(path)
    assert isinstance(from_file, Hashed)
    assert from_file.hash == from_array


@pytest.mark.parametrize(
    "convert",
    [
        lambda a: a.mean(axis=2).astype(np.uint8),  # grey
        lambda a: a.astype(np.float32) / 255.0,  # float in 0-1
        lambda a: np.dstack([a, np.full(a.shape[:2], 255, np.uint8)]),  # opaque RGBA
        lambda a: a.astype(np.int64),
    ],
)
def test_pixel_layouts_are_accepted(convert) -> None:
    image = data.astronaut()
    reference = _hashed(image).hash
    result = _hashed(convert(image)).hash
    assert result.distance(reference) <= 16


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4, 5), np.uint8), np.zeros(10, np.uint8), np.zeros((1, 9, 3), np.uint8)],
)
def test_bad_arrays_raise_a_clear_error(bad: np.ndarray) -> None:
    with pytest.raises(PdqError, match="picture"):
        hash_array(bad)


def test_nan_pixels_are_refused() -> None:
    with pytest.raises(PdqError, match="NaN"):
        hash_array(np.full((8, 8), np.nan))


def test_bad_bytes_and_paths(tmp_path: Path) -> None:
    with pytest.raises(PdqError) as empty:
        hash_bytes(b"")
    assert empty.value.code == "empty_file"
    with pytest.raises(PdqError) as garbage:
        hash_bytes(b"this is not a picture at all")
    assert garbage.value.code == "unsupported_format"
    jpeg = io.BytesIO()
    Image.fromarray(data.astronaut()).save(jpeg, format="JPEG")
    with pytest.raises(PdqError) as truncated:
        hash_bytes(jpeg.getvalue()[:300])
    assert truncated.value.code == "corrupt"
    with pytest.raises(InputFileError, match="no such file"):
        hash_file(tmp_path / "missing.jpg")
    with pytest.raises(InputFileError, match="directory"):
        hash_file(tmp_path)


def test_exif_orientation_is_applied() -> None:
    image = Image.fromarray(data.chelsea())
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90° clockwise
    buf = io.BytesIO()
    image.rotate(90, expand=True).save(buf, format="JPEG", quality=95, exif=exif)
    shown = hash_bytes(buf.getvalue())
    assert isinstance(shown, Hashed)
    assert shown.hash.distance(_hashed(data.chelsea()).hash) <= 31


def test_parse_hex() -> None:
    h = parse_hex("  " + "AB" * 32 + "\n", quality=90)
    assert h.hex == "ab" * 32 and h.quality == 90
    assert parse_hex("0" * 64).distance(parse_hex("f" * 64)) == 256
    for bad in ["ab" * 31, "zz" * 32, "ab" * 16 + " " + "ab" * 15 + "a", ""]:
        with pytest.raises(PdqError):
            parse_hex(bad)


def _write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.video
def test_video_frames_are_sampled_and_hashed(tmp_path: Path) -> None:
    scene = np.asarray(Image.fromarray(data.astronaut()).resize((160, 160)))
    flat = np.full_like(scene, 90)
    frames = [scene] * 10 + [flat] * 10 + [scene[:, ::-1].copy()] * 10  # 3 s at 10 fps
    path = tmp_path / "clip.mp4"
    _write_video(path, frames, fps=10)
    video = hash_video(path, fps=1.0)
    assert [round(f.time, 1) for f in video.frames] == [0.0, 1.0, 2.0]
    kinds = [type(f.result).__name__ for f in video.frames]
    assert kinds == ["Hashed", "NotHashable", "Hashed"]
    assert len(video.hashable) == 2
    assert hash_video(path.read_bytes(), fps=2.0).frames[1].time == pytest.approx(0.5)
    with pytest.raises(PdqError):
        hash_video(b"not a video")
    with pytest.raises(ValueError, match="fps"):
        hash_video(path, fps=0)


def test_16_bit_and_float_files_hash_like_8_bit() -> None:
    camera = data.camera()
    reference = _hashed(camera).hash
    png16 = io.BytesIO()
    Image.fromarray(camera.astype(np.uint16) * 257).save(png16, format="PNG")
    tiff_float = io.BytesIO()
    Image.fromarray(camera.astype(np.float32) / 255).save(tiff_float, format="TIFF")
    for encoded in (png16, tiff_float):
        result = hash_bytes(encoded.getvalue())
        assert isinstance(result, Hashed) and result.hash.distance(reference) <= 2
