"""Read an input file safely: size, SHA-256, media type sniffed from bytes, dimensions.

Everything here works on the bytes, never on the file name: a JPEG called ``photo.png``
is a JPEG. Pillow (pictures) and PyAV (video, optional) are imported lazily.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image, ImageFile, UnidentifiedImageError

from provenance.errors import InputFileError
from provenance.media.budget import DEFAULT_MAX_PIXELS, max_pixels, native_messages, open_header

__all__ = [
    "MAX_PIXELS",
    "MediaInfo",
    "inspect_bytes",
    "read_file",
    "remote_manifest_reference",
    "sniff_media_type",
]

_PROVENANCE_RE: Final = re.compile(
    rb"dcterms:provenance\s*=\s*[\"']([^\"']{1,2048})[\"']"
    rb"|<dcterms:provenance>\s*([^<\s]{1,2048})\s*</dcterms:provenance>"
)

MAX_PIXELS: Final = DEFAULT_MAX_PIXELS
"""The default pixel limit (:data:`provenance.media.budget.DEFAULT_MAX_PIXELS`); the limit
in force is :func:`provenance.media.budget.max_pixels` (``--max-pixels``)."""

_CHUNK: Final = 1 << 20
_FULL_DECODE_PIXELS: Final = 40_000_000

_BMFF_IMAGE_BRANDS: Final = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
}
_BMFF_VIDEO_BRANDS: Final = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4V ": "video/x-m4v",
    b"M4VH": "video/x-m4v",
    b"M4VP": "video/x-m4v",
}

FRAGMENT_MEDIA_TYPE: Final = "video/iso.segment"
"""Media type of a bare fMP4 segment (``.m4s``): readable only together with its init segment."""


@dataclass(frozen=True)
class MediaInfo:
    """What was learnt about the file's bytes."""

    size: int
    """Size in bytes."""
    sha256: str
    """Lowercase hex SHA-256 of the bytes."""
    media_type: str | None
    """Media type sniffed from the content; None when the content is not recognised."""
    width: int | None = None
    """Pixel width (pictures, and video when PyAV is installed)."""
    height: int | None = None
    """Pixel height."""


def sniff_media_type(head: bytes, *, name: str | None = None) -> str | None:
    """Identify a file from its first bytes.

    Parameters
    ----------
    head
        At least the first 64 bytes of the file (more helps for SVG).
    name
        Optional file name. Used only to tell DNG from TIFF (same magic bytes).

    Returns
    -------
    str or None
        A media type such as ``image/jpeg``, or None when unrecognised.

    Examples
    --------
    >>> sniff_media_type(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))
    'image/png'
    >>> sniff_media_type(b"hello, world") is None
    True
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP":
            return "image/webp"
        if kind == b"WAVE":
            return "audio/wav"
        if kind == b"AVI ":
            return "video/avi"
        return None
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        if name is not None and name.lower().endswith(".dng"):
            return "image/dng"
        return "image/tiff"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "image/jxl"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if len(head) >= 12:
        box = head[4:8]
        if box == b"ftyp":
            brand = head[8:12]
            if brand in _BMFF_IMAGE_BRANDS:
                return _BMFF_IMAGE_BRANDS[brand]
            return _BMFF_VIDEO_BRANDS.get(brand, "video/mp4")
        if box in (b"styp", b"moof", b"sidx"):
            return FRAGMENT_MEDIA_TYPE
        if box == b"jumb":
            return "application/c2pa"
    if head.startswith((b"\x00\x01\x00\x00\x00", b"OTTO", b"true", b"wOFF", b"wOF2")):
        return "font/ttf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head.lower()):
        return "image/svg+xml"
    return None


def _stat_regular(path: Path) -> os.stat_result:
    """Stat ``path`` and refuse anything that is not a readable regular file."""
    shown = str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputFileError(f"No such file: {shown}", code="not_found") from None
    except PermissionError:
        raise InputFileError(
            f"Permission denied: cannot read {shown}", code="permission_denied"
        ) from None
    except OSError as exc:
        raise InputFileError(
            f"Cannot read {shown}: {exc.strerror or exc}", code="unreadable"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError(
            f"{shown} is a directory; give a file (or use a recursive option)",
            code="is_directory",
        )
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(f"{shown} is not a regular file", code="unsupported_format")
    return st


def read_file(path: str | os.PathLike[str]) -> bytes:
    """Read a whole input file, translating OS errors into :class:`InputFileError`.

    Parameters
    ----------
    path
        The file to read.

    Returns
    -------
    bytes
        The file content.

    Raises
    ------
    InputFileError
        With code ``not_found``, ``is_directory``, ``permission_denied``, ``unreadable``
        or ``empty_file``.
    """
    p = Path(path)
    _stat_regular(p)
    try:
        with p.open("rb") as f:
            data = f.read()  # one buffer sized from the file, filled to the end
    except PermissionError:
        raise InputFileError(
            f"Permission denied: cannot read {p}", code="permission_denied"
        ) from None
    except IsADirectoryError:
        raise InputFileError(f"{p} is a directory", code="is_directory") from None
    except OSError as exc:
        raise InputFileError(f"Cannot read {p}: {exc.strerror or exc}", code="unreadable") from None
    if not data:
        raise InputFileError(f"{p} is empty (0 bytes)", code="empty_file")
    return data


def _sha256(data: bytes) -> str:
    h = hashlib.sha256()
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        h.update(view[start : start + _CHUNK])
    return h.hexdigest()


_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""Start-of-frame markers (``DHT``, ``JPG`` and ``DAC`` share the range)."""


def _jpeg_structure(data: bytes) -> tuple[str | None, tuple[int, int, int, int] | None]:
    """Why a JPEG is structurally incomplete (None when complete), and its first frame.

    Walks the marker segments from SOI to the first SOS, then looks for the EOI marker
    after it. Inside entropy-coded data ``FF`` is always followed by ``00`` or a restart
    marker, so ``FF D9`` there can only be EOI: a file cut anywhere in its scans (or in
    its header segments) has none. The frame is (width, height, precision, components)
    of the first start-of-frame segment, None when there is none before the scan.
    """
    pos = 2
    n = len(data)
    frame: tuple[int, int, int, int] | None = None
    while True:
        while pos < n and data[pos] == 0xFF and pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > n:
            return "it ends inside its header segments", frame
        if data[pos] != 0xFF:
            return f"a marker is missing at byte {pos}", frame
        marker = data[pos + 1]
        if marker == 0xD9:
            return "it ends before any image data", frame
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if pos + 4 > n:
            return "it ends inside its header segments", frame
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > n:
            return "it ends inside its header segments", frame
        if frame is None and marker in _JPEG_SOF and length >= 8:
            frame = (
                int.from_bytes(data[pos + 7 : pos + 9], "big"),
                int.from_bytes(data[pos + 5 : pos + 7], "big"),
                data[pos + 4],
                data[pos + 9],
            )
        pos += 2 + length
        if marker == 0xDA:  # SOS: entropy-coded data follows
            break
    # From the end: EOI is normally the last marker (or precedes a short trailer), so this
    # touches a few bytes where a forward search would read the whole image data.
    if data.rfind(b"\xff\xd9", pos) < 0:
        return "the image data ends before its end marker (EOI)", frame
    return None, frame


def _jpeg_complete(data: bytes) -> str | None:
    """Why a JPEG is structurally incomplete, or None when it is complete."""
    return _jpeg_structure(data)[0]


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a complete, ordinary JPEG, from its frame header alone.

    None (the caller then asks Pillow, which also words what is wrong) unless the file is
    structurally complete and its first frame is 8-bit with 1, 3 or 4 components and a
    declared, non-zero size: the pictures Pillow opens from the same header.
    """
    problem, frame = _jpeg_structure(data)
    if problem is not None or frame is None:
        return None
    width, height, precision, components = frame
    if width <= 0 or height <= 0 or precision != 8 or components not in (1, 3, 4):
        return None
    return width, height


def _png_complete(data: bytes) -> str | None:
    """Why a PNG is structurally incomplete or damaged (chunk bounds, CRCs, IEND)."""
    pos = 8
    n = len(data)
    while pos + 12 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            return f"chunk {kind!r} runs past the end of the file"
        crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(memoryview(data)[pos + 4 : end - 4]) != crc:
            return f"chunk {kind.decode('latin-1')!r} is damaged (CRC mismatch)"
        if kind == b"IEND":
            return None
        pos = end
    return "it ends before its end chunk (IEND)"


def _webp_complete(data: bytes) -> str | None:
    """Why a WebP is structurally incomplete (RIFF size and chunk bounds)."""
    n = len(data)
    declared = int.from_bytes(data[4:8], "little") + 8
    if declared > n:
        return f"it declares {declared} bytes but has {n}"
    pos = 12
    while pos + 8 <= declared:
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        pos += 8 + size + (size & 1)
    if pos > declared + 1:  # +1: some writers drop the last chunk's padding byte
        return "a chunk runs past the end of the file"
    return None


def _gif_complete(data: bytes) -> str | None:
    """Why a GIF is structurally incomplete (block walk up to the trailer)."""
    n = len(data)
    if n < 13:
        return "it ends inside its header"
    pos = 13
    if data[10] & 0x80:
        pos += 3 << ((data[10] & 0x07) + 1)
    while pos < n:
        introducer = data[pos]
        if introducer == 0x3B:
            return None
        if introducer == 0x21:  # extension: label, then sub-blocks
            pos += 2
        elif introducer == 0x2C:  # image descriptor, local color table, LZW code size
            if pos + 10 > n:
                break
            flags = data[pos + 9]
            pos += 10
            if flags & 0x80:
                pos += 3 << ((flags & 0x07) + 1)
            pos += 1
        else:
            return f"unexpected block 0x{introducer:02x} at byte {pos}"
        while pos < n and data[pos] != 0:
            pos += data[pos] + 1
        pos += 1
    return "it ends before its trailer"


def _bmff_complete(data: bytes) -> str | None:
    """Why an ISO BMFF picture (AVIF, HEIF) is incomplete: a top-level box overruns the file."""
    pos = 0
    n = len(data)
    while pos + 8 <= n:
        size = int.from_bytes(data[pos : pos + 4], "big")
        header = 8
        if size == 1:
            if pos + 16 > n:
                return "it ends inside a box header"
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = 16
        elif size == 0:
            return None  # the last box runs to the end of the file
        if size < header:
            return f"a box at byte {pos} declares an impossible size"
        if pos + size > n:
            kind = data[pos + 4 : pos + 8].decode("latin-1")
            return f"box {kind!r} runs past the end of the file"
        pos += size
    return None if pos == n else "it ends inside a box header"


_STRUCTURE_CHECKS: Final = {
    "JPEG": _jpeg_complete,
    "MPO": _jpeg_complete,  # a JPEG with more pictures appended (Multi-Picture Format)
    "PNG": _png_complete,
    "WEBP": _webp_complete,
    "GIF": _gif_complete,
    "AVIF": _bmff_complete,
}
"""Formats whose completeness is checked from their structure, without decoding pixels."""


def _checked_size(width: int, height: int, *, media_type: str) -> tuple[int, int]:
    """The declared size, refused when empty or absurd (a possible decompression bomb)."""
    if width <= 0 or height <= 0:
        raise InputFileError(
            f"The {media_type} file declares an empty picture ({width}x{height})",
            code="corrupt",
        )
    limit = max_pixels()
    if width * height > limit:
        raise InputFileError(
            f"The picture declares {width}x{height} pixels (over the limit of {limit:,}); "
            "refused as a possible decompression bomb",
            code="too_large",
        )
    return width, height


def _picture_size(data: bytes, media_type: str) -> tuple[int | None, int | None]:
    """Width and height of a picture, read from its header; refuses damaged files.

    JPEG (and MPO), PNG, WebP, GIF and AVIF are checked structurally, without decoding
    pixels (catches truncation; PNG CRCs also catch damaged chunks). Other formats (TIFF)
    are decoded when small enough. Content integrity of signed files is the C2PA hard
    binding's job.
    """
    if media_type == "image/jpeg":
        # Most files: the header walk the structure check needs anyway gives the size,
        # without parsing the picture a second time in Pillow.
        size = _jpeg_size(data)
        if size is not None:
            return _checked_size(*size, media_type=media_type)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bomb warnings: our own limit speaks; others: errors
        try:
            im = open_header(data)
        except Image.DecompressionBombError as exc:
            raise InputFileError(
                f"The picture declares absurd dimensions ({exc}); refused as a "
                "possible decompression bomb",
                code="too_large",
            ) from None
        except UnidentifiedImageError:
            if media_type in ("image/jpeg", "image/png", "image/gif", "image/webp"):
                raise InputFileError(
                    f"The file looks like {media_type} but its header cannot be read",
                    code="corrupt",
                ) from None
            return None, None
        except (OSError, ValueError, SyntaxError) as exc:
            raise InputFileError(
                f"The {media_type} file is damaged: {exc}", code="corrupt"
            ) from None
        with im:
            width, height = _checked_size(*im.size, media_type=media_type)
            structure = _STRUCTURE_CHECKS.get(im.format or "")
            if structure is not None:
                problem = structure(data)
                if problem is not None:
                    raise InputFileError(
                        f"The {media_type} file is truncated or damaged: {problem}",
                        code="corrupt",
                    )
                return width, height
            if width * height > _FULL_DECODE_PIXELS:
                # Too big to decode just to detect truncation; the header was readable.
                return width, height
            saved = ImageFile.LOAD_TRUNCATED_IMAGES
            try:
                ImageFile.LOAD_TRUNCATED_IMAGES = False
                with native_messages(None):  # libtiff prints on stderr itself
                    im.load()
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise InputFileError(
                    f"The {media_type} file is truncated or damaged: {exc}", code="corrupt"
                ) from None
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = saved
    return width, height


_BMFF_CONTAINERS: Final = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})


def _bmff_video_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of the first video track, from its sample description (``stsd``).

    Reads ``moov/trak/mdia/hdlr`` (handler ``vide``) and the first visual sample entry of
    ``moov/trak/mdia/minf/stbl/stsd``; None when the structure is not as expected.
    """

    def boxes(start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
        pos = start
        while pos + 8 <= end:
            size = int.from_bytes(data[pos : pos + 4], "big")
            kind = data[pos + 4 : pos + 8]
            header = 8
            if size == 1 and pos + 16 <= end:
                size = int.from_bytes(data[pos + 8 : pos + 16], "big")
                header = 16
            elif size == 0:
                size = end - pos
            if size < header or pos + size > end:
                return
            yield kind, pos + header, pos + size
            pos += size

    def find(start: int, end: int, path: tuple[bytes, ...]) -> Iterator[tuple[int, int]]:
        for kind, b_start, b_end in boxes(start, end):
            if kind == path[0]:
                if len(path) == 1:
                    yield b_start, b_end
                elif kind in _BMFF_CONTAINERS:
                    yield from find(b_start, b_end, path[1:])

    for moov_start, moov_end in find(0, len(data), (b"moov",)):
        for trak_start, trak_end in find(moov_start, moov_end, (b"trak",)):
            handler = next(find(trak_start, trak_end, (b"mdia", b"hdlr")), None)
            if handler is None or data[handler[0] + 8 : handler[0] + 12] != b"vide":
                continue
            stsd = next(find(trak_start, trak_end, (b"mdia", b"minf", b"stbl", b"stsd")), None)
            if stsd is None:
                return None
            # FullBox header (4) + entry count (4), then the first sample entry box:
            # size/type (8), reserved (6), data reference index (2), pre-defined and
            # reserved (16), width (2), height (2).
            entry = stsd[0] + 8
            if entry + 36 > stsd[1]:
                return None
            width = int.from_bytes(data[entry + 32 : entry + 34], "big")
            height = int.from_bytes(data[entry + 34 : entry + 36], "big")
            return (width, height) if width and height else None
    return None


def _video_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height of the first video stream: from the MP4/MOV structure, else PyAV.

    (None, None) when neither works (PyAV is optional).
    """
    if data[4:8] == b"ftyp" or data[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        size = _bmff_video_size(data)
        if size is not None:
            return size
    try:
        import av  # optional extra: video (PyAV)
    except ImportError:
        return None, None
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            for stream in container.streams.video:
                ctx = stream.codec_context
                if ctx.width and ctx.height:
                    return int(ctx.width), int(ctx.height)
    except Exception:  # dimensions are best effort; PyAV raises many types
        return None, None
    return None, None


_PILLOW_TYPES: Final = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/avif"}
)
_VIDEO_TYPES: Final = frozenset({"video/mp4", "video/quicktime", "video/x-m4v", "video/avi"})


def inspect_bytes(data: bytes, *, name: str | None = None) -> MediaInfo:
    """Describe a file's bytes: size, SHA-256, sniffed media type and dimensions.

    Parameters
    ----------
    data
        The file content (not empty).
    name
        File name, used only to tell DNG from TIFF.

    Returns
    -------
    MediaInfo
        The facts.

    Raises
    ------
    InputFileError
        ``empty_file``, ``corrupt`` (damaged or truncated picture) or ``too_large``
        (absurd declared dimensions). Unknown content is not an error here.
    """
    if not data:
        raise InputFileError("The file is empty (0 bytes)", code="empty_file")
    media_type = sniff_media_type(data[:4096], name=name)
    info = MediaInfo(size=len(data), sha256=_sha256(data), media_type=media_type)
    width: int | None = None
    height: int | None = None
    if media_type in _PILLOW_TYPES:
        try:
            width, height = _picture_size(data, media_type)
        except InputFileError:
            raise
        except Exception as exc:  # a decoder failing in an undocumented way
            raise InputFileError(
                f"The {media_type} file could not be decoded: {type(exc).__name__}: {exc}",
                code="corrupt",
            ) from exc
    elif media_type in _VIDEO_TYPES:
        width, height = _video_size(data)
    return MediaInfo(info.size, info.sha256, info.media_type, width, height)


def partial_info(data: bytes, *, name: str | None = None) -> MediaInfo:
    """Like :func:`inspect_bytes` but never raises: dimensions are left out.

    Used to fill the subject of an ERROR report as far as possible.
    """
    return MediaInfo(
        size=len(data),
        sha256=_sha256(data),
        media_type=sniff_media_type(data[:4096], name=name) if data else None,
    )


def remote_manifest_reference(data: bytes) -> str | None:
    """Find a remote manifest URL in the file's XMP (``dcterms:provenance``).

    Parameters
    ----------
    data
        The file content.

    Returns
    -------
    str or None
        The URL, or None when the file has no such reference.

    Examples
    --------
    >>> remote_manifest_reference(b'<x dcterms:provenance="https://example.org/m.c2pa"/>')
    'https://example.org/m.c2pa'
    """
    m = _PROVENANCE_RE.search(data)
    if m is None:
        return None
    raw = m.group(1) or m.group(2)
    return raw.decode("utf-8", errors="replace").strip() or None
