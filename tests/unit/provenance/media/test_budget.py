"""The decode budget: header check before decoding, one error for every decoder exception,
reduced decodes, warnings into notes."""

from __future__ import annotations

import io
import logging
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from provenance.media import budget
from provenance.media._imageio import load_rgb as lenient_load_rgb


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buf, "PNG")
    return buf.getvalue()


def _lying_png(width: int, height: int) -> bytes:
    """A 1x1 PNG whose IHDR (with a correct CRC) declares ``width`` x ``height``."""
    data = _png(1, 1)
    ihdr = struct.pack(">II", width, height) + data[24:29]
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return data[:8] + chunk + data[33:]


def test_header_checked_before_decoding() -> None:
    with pytest.raises(budget.DecodeError) as info:
        budget.load_rgb(_lying_png(20000, 20000))
    assert info.value.code == "too_large"
    assert "20000x20000" in info.value.message
    assert budget.declared_size(_lying_png(20000, 20000)) == (20000, 20000)


def test_pixel_limit_context() -> None:
    data = _png(40, 30)
    assert budget.load_rgb(data).shape == (30, 40, 3)
    with budget.pixel_limit(1000):
        assert budget.max_pixels() == 1000
        with pytest.raises(budget.DecodeError, match="over the limit of 1,000"):
            budget.load_rgb(data)
    assert budget.max_pixels() == budget.DEFAULT_MAX_PIXELS
    with pytest.raises(ValueError):
        with budget.pixel_limit(0):
            pass


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("avif decode failed"),
        OSError("truncated"),
        SyntaxError("bad header"),
        struct.error("unpack"),
        ValueError("bad"),
        EOFError(),
        zlib.error("bomb"),
        IndexError("list"),
        KeyError("tag"),
        MemoryError(),
        Image.DecompressionBombError("big"),
    ],
)
def test_every_decoder_exception_is_one_error(exc: BaseException) -> None:
    with pytest.raises(budget.DecodeError) as info:
        with budget.decoding("picture"):
            raise exc
    assert info.value.code in ("corrupt", "too_large")
    assert "\n" not in info.value.message and info.value.message


def test_undecodable_bytes() -> None:
    with pytest.raises(budget.DecodeError) as info:
        budget.load_rgb(b"not a picture at all")
    assert info.value.code == "unsupported_format"
    with pytest.raises(budget.DecodeError) as info:
        budget.load_rgb(_png(64, 64)[:80])
    assert info.value.code == "corrupt"
    assert lenient_load_rgb(b"junk") is None


def test_reduced_decodes() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 100, 50)).save(buf, "JPEG")
    small = budget.load_rgb(buf.getvalue(), max_side=512)
    assert max(small.shape[:2]) <= 512
    im = budget.open_picture(_png(4096, 2048), min_short_side=1024)
    assert im.size == (2048, 1024)
    assert budget.analysis_factor(300, 200) == 1


def test_warnings_and_logs_become_notes() -> None:
    notes: list[str] = []
    with budget.decoding("picture", notes):
        warnings.warn("Corrupt EXIF data", UserWarning, stacklevel=1)
    assert notes == ["decoder warning: Corrupt EXIF data"]
    with budget.collecting() as collected:
        logging.getLogger("PIL.TiffImagePlugin").error("More samples per pixel: %s", 7)
        warnings.warn("palette images with transparency", UserWarning, stacklevel=1)
    assert "decoder error: More samples per pixel: 7" in collected
    assert "decoder warning: palette images with transparency" in collected


def test_native_messages(capfd: pytest.CaptureFixture[str]) -> None:
    import os

    notes: list[str] = []
    with budget.native_messages(notes):
        os.write(2, b"TIFFReadDirectory: Warning, unknown field\n")
    assert notes == ["decoder message: TIFFReadDirectory: Warning, unknown field"]
    assert capfd.readouterr().err == ""


def test_peak_bytes_documented() -> None:
    assert budget.peak_bytes(budget.DEFAULT_MAX_PIXELS) < 2 << 30
    assert np.uint8(budget.BYTES_PER_PIXEL) > 0
