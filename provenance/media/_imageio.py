"""Small, defensive readers for the containers we look inside (JPEG, PNG, WebP).

Everything here works on ``bytes`` and never raises on malformed input: a truncated
segment, an absurd length or a corrupt compressed chunk simply ends the walk, and the
caller gets whatever could be read up to that point. Pillow is imported lazily and only
where pixels or EXIF are needed.
"""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from provenance.media import budget

__all__ = [
    "MAX_TEXT_BYTES",
    "Container",
    "JpegSegment",
    "TextChunk",
    "exif_blobs",
    "jpeg_comments",
    "jpeg_segments",
    "load_exif",
    "load_rgb",
    "png_chunks",
    "png_text_chunks",
    "sniff",
    "trailing_data",
    "webp_chunks",
    "xmp_packets",
]

MAX_TEXT_BYTES = 8 * 1024 * 1024
"""Upper bound on one decompressed text chunk or XMP packet (bytes)."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_JPEG_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_PACKET = re.compile(rb"<x:xmpmeta\b.*?</x:xmpmeta>", re.DOTALL)
_XMP_RDF = re.compile(rb"<rdf:RDF\b.*?</rdf:RDF>", re.DOTALL)


@dataclass(frozen=True)
class Container:
    """The container format of a file, as sniffed from its first bytes."""

    name: str
    """``jpeg``, ``png``, ``webp``, ``gif``, ``tiff``, ``heif``, ``mp4`` or ``unknown``."""


@dataclass(frozen=True)
class JpegSegment:
    """One marker segment before the first scan of a JPEG file."""

    marker: int
    """The marker byte (``0xE1`` for APP1, ``0xDB`` for DQT, ...)."""
    offset: int
    """Offset of the ``0xFF`` that starts the marker."""
    payload: bytes
    """The segment body, without the marker and the length field."""


@dataclass(frozen=True)
class TextChunk:
    """One textual entry of a PNG file (``tEXt``, ``zTXt`` or ``iTXt``)."""

    key: str
    """The keyword, as written (``parameters``, ``prompt``, ``XML:com.adobe.xmp``...)."""
    text: str
    """The decoded text (decompressed when needed)."""
    chunk_type: str
    """``tEXt``, ``zTXt`` or ``iTXt``."""


def sniff(data: bytes) -> Container:
    """Identify the container from the magic bytes.

    Parameters
    ----------
    data : bytes
        The file contents.

    Returns
    -------
    Container
        The container; ``unknown`` when nothing matched.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return Container("jpeg")
    if data.startswith(_PNG_SIGNATURE):
        return Container("png")
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Container("webp")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return Container("gif")
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return Container("tiff")
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"heim", b"heis"):
            return Container("heif")
        return Container("mp4")
    return Container("unknown")


# In entropy-coded data, 0xFF is followed by 0x00 (stuffing), a restart marker
# (0xD0-0xD7) or another 0xFF (fill); anything else is the next marker.
_SCAN_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

_WalkResult = tuple[tuple[JpegSegment, ...], int | None]
_last_walk: tuple[bytes, _WalkResult] | None = None
"""The last walk: several readers (AI signals, metadata, trailing data) walk the same
bytes object in a row, so it is walked once. One entry: at most one file stays referenced."""


def _jpeg_walk(data: bytes) -> tuple[list[JpegSegment], int | None]:
    """Walk JPEG markers; return the header segments and the offset just after EOI.

    The result for the most recent ``data`` object is remembered (by identity, so a
    new bytes object is always walked afresh).
    """
    global _last_walk
    last = _last_walk  # one read: another thread may replace it meanwhile
    if last is not None and last[0] is data:
        return list(last[1][0]), last[1][1]
    segments, end = _jpeg_walk_uncached(data)
    if isinstance(data, bytes):
        _last_walk = (data, (tuple(segments), end))
    return segments, end


def _jpeg_walk_uncached(data: bytes) -> tuple[list[JpegSegment], int | None]:
    segments: list[JpegSegment] = []
    n = len(data)
    if not data.startswith(b"\xff\xd8"):
        return segments, None
    pos = 2
    in_scan = False
    while pos < n:
        if in_scan:
            # Entropy-coded data: jump to the next marker that is not stuffing or a restart.
            found = _SCAN_MARKER.search(data, pos)
            if found is None:
                return segments, None
            pos = found.start()
            in_scan = False
            continue
        if data[pos] != 0xFF:
            return segments, None
        # Fill bytes (0xFF 0xFF ...) are allowed before a marker.
        while pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1
        if pos + 1 >= n:
            return segments, None
        marker = data[pos + 1]
        if marker == 0xD9:
            return segments, pos + 2
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if pos + 4 > n:
            return segments, None
        length = (data[pos + 2] << 8) | data[pos + 3]
        if length < 2 or pos + 2 + length > n:
            return segments, None
        if marker != 0xDA:
            segments.append(JpegSegment(marker, pos, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            in_scan = True
    return segments, None


def jpeg_segments(data: bytes) -> list[JpegSegment]:
    """Return the marker segments of a JPEG file (all, including those between scans).

    Parameters
    ----------
    data : bytes
        The file contents.

    Returns
    -------
    list of JpegSegment
        Empty when ``data`` is not a JPEG file.
    """
    return _jpeg_walk(data)[0]


def jpeg_comments(data: bytes) -> list[str]:
    """Return the text of the JPEG ``COM`` segments (decoded leniently)."""
    return [
        s.payload.decode("utf-8", errors="replace") for s in jpeg_segments(data) if s.marker == 0xFE
    ]


def png_chunks(data: bytes) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """Walk a PNG file.

    Parameters
    ----------
    data : bytes
        The file contents.

    Returns
    -------
    chunks : list of (bytes, bytes)
        ``(type, body)`` for each complete chunk, in file order.
    end : int or None
        Offset just after the ``IEND`` chunk, or None when it was not reached.
    """
    chunks: list[tuple[bytes, bytes]] = []
    if not data.startswith(_PNG_SIGNATURE):
        return chunks, None
    pos = len(_PNG_SIGNATURE)
    n = len(data)
    while pos + 8 <= n:
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > n:
            return chunks, None
        chunks.append((ctype, data[pos + 8 : pos + 8 + length]))
        pos = end
        if ctype == b"IEND":
            return chunks, pos
    return chunks, None


def webp_chunks(data: bytes) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """Walk a WebP (RIFF) file.

    Returns
    -------
    chunks : list of (bytes, bytes)
        ``(fourcc, body)`` for each complete chunk.
    end : int or None
        Offset just after the RIFF payload as declared in its header.
    """
    chunks: list[tuple[bytes, bytes]] = []
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return chunks, None
    (riff_size,) = struct.unpack("<I", data[4:8])
    riff_end = 8 + riff_size
    limit = min(riff_end, len(data))
    pos = 12
    while pos + 8 <= limit:
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        if pos + 8 + size > limit:
            break
        chunks.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks, riff_end if riff_end <= len(data) else None


def _inflate(body: bytes) -> bytes | None:
    """Decompress zlib data, refusing to produce more than :data:`MAX_TEXT_BYTES`."""
    try:
        d = zlib.decompressobj()
        out = d.decompress(body, MAX_TEXT_BYTES)
        if d.unconsumed_tail:
            return None
        return out
    except zlib.error:
        return None


def png_text_chunks(data: bytes) -> list[TextChunk]:
    """Return the text entries of a PNG file (``tEXt``, ``zTXt``, ``iTXt``).

    Entries that cannot be decoded (bad compression, no keyword separator, oversize)
    are skipped.
    """
    out: list[TextChunk] = []
    chunks, _ = png_chunks(data)
    for ctype, body in chunks:
        if ctype not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        key_raw, sep, rest = body.partition(b"\x00")
        if not sep or not key_raw or len(key_raw) > 79:
            continue
        key = key_raw.decode("latin-1")
        if ctype == b"tEXt":
            out.append(TextChunk(key, rest.decode("latin-1"), "tEXt"))
        elif ctype == b"zTXt":
            if not rest:
                continue
            raw = _inflate(rest[1:])
            if raw is not None:
                out.append(TextChunk(key, raw.decode("latin-1"), "zTXt"))
        else:
            if len(rest) < 2:
                continue
            compressed, _method = rest[0], rest[1]
            parts = rest[2:].split(b"\x00", 2)
            if len(parts) != 3:
                continue
            text_raw: bytes | None = parts[2]
            if compressed == 1:
                text_raw = _inflate(parts[2])
            if text_raw is not None:
                out.append(TextChunk(key, text_raw.decode("utf-8", errors="replace"), "iTXt"))
    return out


def _packet_from(raw: bytes) -> str | None:
    m = _XMP_PACKET.search(raw) or _XMP_RDF.search(raw)
    if m is None or len(m.group(0)) > MAX_TEXT_BYTES:
        return None
    return m.group(0).decode("utf-8", errors="replace")


def xmp_packets(data: bytes) -> list[tuple[str, str]]:
    """Extract the XMP packets of a file.

    JPEG APP1 (``http://ns.adobe.com/xap/1.0/``), PNG ``iTXt``/``tEXt`` with the keyword
    ``XML:com.adobe.xmp`` and the WebP ``XMP `` chunk are read from the container
    structure; for other containers (TIFF, HEIF, MP4, GIF) the first packet found by a
    byte scan is returned.

    Returns
    -------
    list of (str, str)
        ``(where, packet_text)`` pairs; ``where`` names the location in words.
    """
    kind = sniff(data).name
    found: list[tuple[str, str]] = []
    if kind == "jpeg":
        for seg in jpeg_segments(data):
            if seg.marker == 0xE1 and seg.payload.startswith(_XMP_JPEG_PREFIX):
                pkt = _packet_from(seg.payload[len(_XMP_JPEG_PREFIX) :])
                if pkt is not None:
                    found.append(("XMP packet (JPEG APP1)", pkt))
    elif kind == "png":
        for chunk in png_text_chunks(data):
            if chunk.key == "XML:com.adobe.xmp":
                pkt = _packet_from(chunk.text.encode("utf-8", errors="replace"))
                if pkt is not None:
                    found.append((f"XMP packet (PNG {chunk.chunk_type})", pkt))
    elif kind == "webp":
        for fourcc, body in webp_chunks(data)[0]:
            if fourcc == b"XMP ":
                pkt = _packet_from(body)
                if pkt is not None:
                    found.append(("XMP packet (WebP XMP chunk)", pkt))
    elif kind != "unknown":
        pkt = _packet_from(data[: 64 * 1024 * 1024])
        if pkt is not None:
            found.append((f"XMP packet ({kind.upper()})", pkt))
    return found


def exif_blobs(data: bytes) -> list[tuple[str, bytes]]:
    """Return the EXIF (TIFF-structured) blobs of a JPEG, PNG or WebP file.

    Returns
    -------
    list of (str, bytes)
        ``(where, tiff_bytes)``; ``tiff_bytes`` starts with ``II*\\0`` or ``MM\\0*``.
    """
    kind = sniff(data).name
    out: list[tuple[str, bytes]] = []

    def strip(body: bytes) -> bytes:
        return body[6:] if body.startswith(b"Exif\x00\x00") else body

    if kind == "jpeg":
        for seg in jpeg_segments(data):
            if seg.marker == 0xE1 and seg.payload.startswith(b"Exif\x00"):
                out.append(("EXIF (JPEG APP1)", strip(seg.payload)))
    elif kind == "png":
        for ctype, body in png_chunks(data)[0]:
            if ctype == b"eXIf":
                out.append(("EXIF (PNG eXIf chunk)", strip(body)))
    elif kind == "webp":
        for fourcc, body in webp_chunks(data)[0]:
            if fourcc == b"EXIF":
                out.append(("EXIF (WebP EXIF chunk)", strip(body)))
    elif kind == "tiff":
        out.append(("EXIF (TIFF header)", data))
    return [(w, b) for w, b in out if b[:4] in (b"II*\x00", b"MM\x00*")]


def load_exif(tiff: bytes) -> Any | None:
    """Parse one EXIF blob with Pillow; None when Pillow cannot read it.

    Returns
    -------
    PIL.Image.Exif or None
    """

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data": the None result says it
            exif = Image.Exif()
            exif.load(b"Exif\x00\x00" + tiff)
            # Touch the sub-IFDs now so that a corrupt offset fails here, not later.
            exif.get_ifd(0x8769)
            exif.get_ifd(0x8825)
            return exif
    except Exception:  # Pillow raises many types on corrupt EXIF
        return None


def trailing_data(data: bytes) -> tuple[int, int] | None:
    """Find bytes after the logical end of a JPEG, PNG or WebP image.

    Returns
    -------
    (end, count) or None
        ``end`` is the offset where the image ends (after EOI, IEND or the RIFF size)
        and ``count`` the number of bytes after it; None when the end was not found
        or the container is another one.
    """
    kind = sniff(data).name
    end: int | None = None
    if kind == "jpeg":
        end = _jpeg_walk(data)[1]
    elif kind == "png":
        end = png_chunks(data)[1]
    elif kind == "webp":
        end = webp_chunks(data)[1]
    if end is None:
        return None
    return end, len(data) - end


def load_rgb(
    data: bytes,
    *,
    max_pixels: int | None = None,
    max_side: int | None = None,
    min_short_side: int | None = None,
    notes: list[str] | None = None,
) -> npt.NDArray[np.uint8] | None:
    """Decode a picture to a ``uint8 (H, W, 3)`` RGB array within the decode budget.

    EXIF orientation is not applied: the pixels come out as stored.

    Parameters
    ----------
    data : bytes
        The encoded picture.
    max_pixels : int or None, optional
        Refuse larger pictures before decoding (default: the limit in force,
        :func:`provenance.media.budget.max_pixels`).
    max_side : int or None, optional
        When given, return a copy reduced to at most this many pixels on a side (JPEG
        files are decoded at a reduced DCT scale first, which is much faster).
    min_short_side : int or None, optional
        Reduce by a power of two keeping the shorter side at least this long
        (:func:`provenance.media.budget.analysis_factor`).
    notes : list of str or None, optional
        Where decoder warnings go.

    Returns
    -------
    numpy.ndarray or None
        None when the picture cannot be decoded or is over the limit.
    """

    try:
        return budget.load_rgb(
            data,
            limit=max_pixels,
            max_side=max_side,
            min_short_side=min_short_side,
            notes=notes,
        )
    except budget.DecodeError:
        return None


def iter_json_strings(obj: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """Yield ``(key, string)`` pairs found anywhere in a decoded JSON value."""
    if depth > 64:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str):
                yield str(k), v
            else:
                yield from iter_json_strings(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            yield from iter_json_strings(v, depth + 1)
