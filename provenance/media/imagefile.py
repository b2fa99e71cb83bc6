"""Pictures on disk for the watermark: decode with Pillow, re-encode keeping metadata.

The numeric core in :mod:`watermark` takes and returns arrays and never touches files; this
module is the thin file adapter used by ``verify watermark`` and by scripts::

    from provenance.media.imagefile import detect_file, embed_file

    embed_file("photo.jpg", "photo-marked.jpg", b"AGENCY01", watermark.PUBLIC_KEY)
    detect_file("reposted.jpg", watermark.PUBLIC_KEY).payload

``embed_file`` keeps the ICC profile and EXIF, writes JPEG/WebP at quality 95 unless told
otherwise, never overwrites an existing file without ``force`` (and never its input), and
writes through a temporary file renamed into place.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, PngImagePlugin

import watermark
from provenance._atomic import atomic_writer
from provenance.credentials._c2pa import carries_credentials
from provenance.errors import ImageFileError, ProvenanceError
from provenance.media import budget
from provenance.media.inspect import read_file, sniff_media_type

__all__ = [
    "EmbedResult",
    "ImageFileError",
    "Loaded",
    "detect_file",
    "detection_record",
    "embed_file",
    "read_image",
    "unreadable_record",
    "write_image",
]

_LOSSY_QUALITY = {"JPEG": 95, "WEBP": 95}


@dataclass(frozen=True)
class Loaded:
    """A decoded picture and what must survive re-encoding."""

    pixels: NDArray[np.uint8]
    """(H, W, 3) RGB or (H, W) grey."""
    alpha: NDArray[np.uint8] | None
    """The alpha channel, if any (re-attached on output)."""
    info: dict[str, Any]
    """Pillow save options that carry the ICC profile and EXIF."""


def read_image(path: Path, *, notes: list[str] | None = None) -> Loaded:
    """Decode ``path`` into RGB or grey uint8 pixels, within the decode budget.

    The header is checked against :func:`provenance.media.budget.max_pixels` before any
    pixel is decoded; decoder warnings go to ``notes``.

    Raises
    ------
    ImageFileError
        With a one-line reason when the file is missing, not a readable picture, or over
        the pixel limit (code ``too_large``).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageFileError("no such file") from None
    except IsADirectoryError:
        raise ImageFileError("is a directory") from None
    except PermissionError:
        raise ImageFileError("permission denied") from None
    except OSError as exc:
        raise ImageFileError(f"cannot read the file ({exc.strerror or exc})") from None
    if not data:
        raise ImageFileError("is empty (0 bytes)")
    try:
        im = budget.open_picture(data, notes=notes)
        with budget.decoding("picture", notes):
            return _loaded(im)
    except budget.DecodeError as exc:
        if exc.code == "unsupported_format":
            message = "not a picture we can read (unknown or damaged format)"
        else:
            message = exc.message
        raise ImageFileError(message, code=exc.code) from None


def _loaded(im: Any) -> Loaded:
    info: dict[str, Any] = {}
    if im.info.get("icc_profile"):
        info["icc_profile"] = im.info["icc_profile"]
    exif = im.info.get("exif")
    if exif:
        info["exif"] = exif
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if xmp:
        info["xmp"] = xmp.encode("utf-8") if isinstance(xmp, str) else bytes(xmp)
    alpha = None
    if im.mode in ("L", "RGB"):
        conv = im
    elif im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.uint8)
        conv = rgba.convert("RGB")
    elif im.mode in ("I;16", "I", "F", "1"):
        conv = im.convert("L")
    else:
        conv = im.convert("RGB")
    return Loaded(pixels=np.asarray(conv, dtype=np.uint8).copy(), alpha=alpha, info=info)


def write_image(
    loaded: Loaded, pixels: NDArray[np.uint8], out: Path, *, quality: int | None = None
) -> None:
    """Encode ``pixels`` to ``out`` (format from the extension) through a temporary file.

    The ICC profile, EXIF and alpha channel of ``loaded`` are kept; JPEG and WebP use
    quality 95 unless ``quality`` is given. The file appears only when complete.

    Raises
    ------
    ImageFileError
        When the extension names no format Pillow can write.
    OSError
        When the file cannot be written.
    """

    fmt = Image.registered_extensions().get(out.suffix.lower())
    if fmt is None:
        raise ImageFileError(
            f"cannot tell the output format from {out.name!r}; use .jpg, .png, .webp, .tif ...",
            code="unknown_output_format",
        )
    im = Image.fromarray(pixels)
    if loaded.alpha is not None and fmt not in ("JPEG",):
        im = im.convert("RGBA")
        im.putalpha(Image.fromarray(loaded.alpha))
    opts: dict[str, Any] = dict(loaded.info)
    if fmt in _LOSSY_QUALITY:
        opts["quality"] = quality if quality is not None else _LOSSY_QUALITY[fmt]
        if fmt == "JPEG":
            opts["subsampling"] = 0 if opts["quality"] >= 90 else 2
    if fmt == "PNG" and "xmp" in opts:  # PNG keeps XMP in an iTXt chunk of its own name
        chunks = PngImagePlugin.PngInfo()
        chunks.add_itxt("XML:com.adobe.xmp", opts.pop("xmp").decode("utf-8", "replace"))
        opts["pnginfo"] = chunks
    with atomic_writer(out) as fh:
        im.save(fh, format=fmt, **opts)


@dataclass(frozen=True)
class EmbedResult:
    """What :func:`embed_file` wrote."""

    output: Path
    """The marked file."""
    psnr: float
    """PSNR of the marked pixels against the original, in dB (before re-encoding)."""


def embed_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    payload: bytes,
    key: bytes | str,
    *,
    psnr: float = 40.0,
    quality: int | None = None,
    force: bool = False,
    drop_credentials: bool = False,
    profile: str = watermark.DEFAULT_PROFILE,
) -> EmbedResult:
    """Mark the picture ``src`` and write it to ``dst``.

    ``psnr`` and ``profile`` are those of :func:`watermark.embed`.

    Marking changes the pixels, so Content Credentials in ``src`` would no longer match
    them: such a file is refused (:func:`refuse_credentials`) unless ``drop_credentials``
    is true, and then the output carries none. EXIF, XMP and the ICC profile are kept.

    Raises
    ------
    ImageFileError
        When ``src`` cannot be read, ``dst`` exists (without ``force``) or is ``src``,
        the output format is unknown, or ``src`` carries Content Credentials (code
        ``has_credentials``) and ``drop_credentials`` is false.
    ValueError
        From :func:`watermark.embed`: bad payload, key, profile or a picture too small.
    OSError
        When ``dst`` cannot be written.
    """
    source, out = Path(src), Path(dst)
    if out.exists():
        if source.exists() and out.resolve() == source.resolve() and not force:
            raise ImageFileError(f"{out} is the input; add force to overwrite", code="exists")
        if not force:
            raise ImageFileError(f"{out} exists; add force to overwrite", code="exists")
    if not drop_credentials:
        refuse_credentials(source)
    loaded = read_image(source)
    marked = np.asarray(
        watermark.embed(loaded.pixels, payload, key, psnr=psnr, profile=profile), dtype=np.uint8
    )
    write_image(loaded, marked, out, quality=quality)
    diff = marked.astype(np.float64) - loaded.pixels.astype(np.float64)
    mse = float(np.mean(diff * diff))
    measured = math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)
    return EmbedResult(output=out, psnr=measured)


def refuse_credentials(path: str | os.PathLike[str]) -> None:
    """Raise when the picture or video at ``path`` carries Content Credentials.

    Raises
    ------
    ImageFileError
        Code ``has_credentials``, saying that marking would break the credentials and that
        ``verify sign --watermark`` marks first and signs after.
    """
    source = Path(path)
    try:
        data = read_file(source)
    except ProvenanceError:
        return  # unreadable: the decoder says why, with its own message
    media_type = sniff_media_type(data)
    if media_type and carries_credentials(data, media_type=media_type):
        raise ImageFileError(
            "carries Content Credentials; marking changes the pixels, so they would no "
            "longer match. Use 'verify sign --watermark' to mark and sign anew, or "
            "--drop-credentials to mark without them",
            code="has_credentials",
        )


def detect_file(path: str | os.PathLike[str], key: bytes | str) -> watermark.Detection:
    """Read the picture at ``path`` and look for the watermark of ``key``.

    Raises
    ------
    ImageFileError
        When the file cannot be read as a picture.
    ValueError
        From :func:`watermark.detect` (a picture too small to carry the mark).
    """
    return watermark.detect(read_image(Path(path)).pixels, key)


def detection_record(path: Path, result: watermark.Detection) -> dict[str, Any]:
    """The JSON record of one detection (``verify watermark detect``)."""
    text: str | None = None
    if result.payload is not None:
        try:
            decoded = result.payload.decode("utf-8")
        except UnicodeDecodeError:
            decoded = None
        if decoded is not None and decoded.isprintable():
            text = decoded
    geometry = None
    if result.geometry is not None:
        g = result.geometry
        geometry = {
            "scale": round(g.scale, 4),
            "aspect": round(g.aspect, 4),
            "rotation": round(g.rotation, 3),
            "flipped": g.flipped,
            "shift": [round(g.shift[0], 2), round(g.shift[1], 2)],
        }
    return {
        "found": result.found,
        "payload_hex": result.payload.hex() if result.payload is not None else None,
        "payload_text": text,
        "score": round(result.score, 3),
        "p_value": float(f"{result.p_value:.3e}"),
        "geometry": geometry,
        "subject": {"path": str(path)},
    }


def unreadable_record(path: Path, message: str) -> dict[str, Any]:
    """The JSON record of an input that could not be read: ``found`` is null, ``error`` says why."""
    return {
        "found": None,
        "payload_hex": None,
        "payload_text": None,
        "score": None,
        "p_value": None,
        "geometry": None,
        "subject": {"path": str(path)},
        "error": {"code": "unreadable", "message": message},
    }
