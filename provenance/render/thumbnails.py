"""Thumbnails as ``data:`` URIs: at most 320 pixels wide, or blurred beyond recognition.

Pictures are decoded with Pillow (JPEG files at a reduced DCT scale, so a large photo costs
a few milliseconds); videos give their first frame through PyAV (the ``video`` extra). A
file that cannot be decoded gets no thumbnail, never an error: the report says so instead.
"""

from __future__ import annotations

import base64
import enum
import io
import os
import warnings
from pathlib import Path
from typing import Final

from PIL import Image, ImageFilter

__all__ = [
    "MAX_WIDTH",
    "Thumbnails",
    "blur_beyond_recognition",
    "data_uri",
    "file_thumbnail",
    "load_picture",
]

MAX_WIDTH: Final = 320
"""Widest thumbnail in pixels (the height keeps the aspect ratio, at most 320 too)."""

_MAX_PIXELS: Final = 100_000_000
"""Refuse to decode pictures that declare more pixels than this (decompression bombs)."""

_BLUR_GRID: Final = 8
"""Blurred thumbnails keep at most this many samples on their longer side."""


class Thumbnails(enum.StrEnum):
    """The values of ``--thumbnails``."""

    FULL = "full"
    """A recognisable thumbnail, at most 320 px wide."""
    BLUR = "blur"
    """A blurred thumbnail: the colours and layout only, not the content."""
    NONE = "none"
    """No picture at all."""


def _video_frame(path: Path) -> Image.Image | None:
    try:
        import av  # the optional `video` extra; only needed for video thumbnails
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            for frame in container.decode(video=0):
                image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
                return image
    except Exception:  # PyAV raises many error types on damaged files
        return None
    return None


def load_picture(
    path: str | os.PathLike[str], *, media_type: str | None = None
) -> Image.Image | None:
    """Decode a picture (or a video's first frame), reduced to at most 320 px wide.

    Parameters
    ----------
    path
        The file.
    media_type
        Its sniffed media type, when known (``video/...`` reads a frame with PyAV).

    Returns
    -------
    PIL.Image.Image or None
        An RGB picture at most :data:`MAX_WIDTH` wide, or None when it cannot be decoded.
    """
    p = Path(path)
    if not p.is_file():  # gone since the check, or a device or pipe that could block
        return None
    if media_type is not None and media_type.startswith("video/"):
        frame = _video_frame(p)
        return None if frame is None else _reduce(frame)
    try:
        with warnings.catch_warnings():
            # Bomb warnings are handled by _MAX_PIXELS; palette notes are noise.
            warnings.simplefilter("ignore")
            with Image.open(p) as im:
                if im.width * im.height > _MAX_PIXELS:
                    return None
                im.draft("RGB", (MAX_WIDTH, MAX_WIDTH))
                return _reduce(im)
    except Exception:  # Pillow raises many types on corrupt or unknown files
        return None


def _reduce(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        rgb = flat
    else:
        rgb = im.convert("RGB")
    rgb.thumbnail((MAX_WIDTH, MAX_WIDTH), Image.Resampling.BICUBIC)
    return rgb


def blur_beyond_recognition(im: Image.Image) -> Image.Image:
    """Keep only the rough colours of a picture.

    The picture is first reduced to at most 8 samples on its longer side (so no detail
    smaller than an eighth of the picture survives), then enlarged back through a quarter
    size, where a Gaussian whose radius is a tenth of the longer side smooths the blocks away.

    Parameters
    ----------
    im
        An RGB picture.

    Returns
    -------
    PIL.Image.Image
        A picture of the same size with nothing recognisable left.
    """
    w, h = im.size
    scale = _BLUR_GRID / max(w, h)
    tiny = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
    small = (max(1, w // 4), max(1, h // 4))
    smooth = tiny.resize(small, Image.Resampling.BILINEAR).filter(
        ImageFilter.GaussianBlur(radius=max(small) / 10)
    )
    return smooth.resize((w, h), Image.Resampling.BILINEAR)


def data_uri(im: Image.Image, *, quality: int = 72) -> str:
    """Encode a picture as a ``data:image/jpeg;base64,...`` URI.

    Parameters
    ----------
    im
        An RGB picture.
    quality
        JPEG quality.

    Returns
    -------
    str
        The URI.
    """
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def file_thumbnail(
    path: str | os.PathLike[str], mode: Thumbnails, *, media_type: str | None = None
) -> str | None:
    """The thumbnail of a file as a ``data:`` URI, following ``--thumbnails``.

    Parameters
    ----------
    path
        The file.
    mode
        ``full``, ``blur`` or ``none``.
    media_type
        Its sniffed media type, when known.

    Returns
    -------
    str or None
        The URI; None for ``none`` or when no picture can be decoded.
    """
    if mode is Thumbnails.NONE:
        return None
    im = load_picture(path, media_type=media_type)
    if im is None:
        return None
    if mode is Thumbnails.BLUR:
        return data_uri(blur_beyond_recognition(im), quality=60)
    return data_uri(im)
