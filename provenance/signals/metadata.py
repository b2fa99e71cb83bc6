"""Metadata and structure facts: sentences a fact-checker can weigh, never verdicts.

:func:`metadata_facts` reads JPEG, PNG and WebP files (and EXIF in TIFF) and reports:

* ``exif.Software``, ``exif.ProcessingSoftware``, ``exif.HostComputer``, ``exif.Camera``:
  what the file says wrote it, and on what.
* ``xmp.CreatorTool`` and ``xmp.History`` (``xmpMM:History`` events: action, software
  agent, time).
* ``dates``: capture time (EXIF ``DateTimeOriginal``, else XMP ``exif:DateTimeOriginal``
  or ``photoshop:DateCreated``), modification time (EXIF ``DateTime``, else XMP
  ``xmp:ModifyDate``) and the C2PA signing time, with the differences between them
  (``dates.modified_vs_original``, ``dates.signing_vs_original``,
  ``dates.signing_vs_modified``). EXIF times carry no time zone unless an
  ``OffsetTime*`` tag gives one; such comparisons are stated as approximate.
* ``exif.thumbnail``: the embedded EXIF thumbnail compared with the picture by PDQ
  distance, at the thumbnail's size (black letterbox bars trimmed; EXIF orientation not
  applied, as neither side has it applied): ≤ 31 MATCH, 32-52 REVIEW, above DIFFERS
  (the usual PDQ bands).
* ``jpeg.quality`` and ``jpeg.quantization``: the quality estimated from the
  quantisation tables by inverting the IJG (libjpeg) scaling, and whether the tables
  are exactly IJG tables at some quality (as libjpeg, libjpeg-turbo and Pillow write
  them) or another encoder's (cameras, phones, Photoshop, mozjpeg...).
* ``trailing_data``: bytes after the JPEG ``EOI``, the PNG ``IEND`` or the RIFF size,
  with their count and what they look like.
* ``gps``: whether GPS coordinates are present (redacted unless ``show_gps``).
* ``platform.marker``: a Facebook re-encoding marker (``FBMD`` in the IPTC block).

Nothing here raises on malformed input; what cannot be parsed is left out.
"""

from __future__ import annotations

import math
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from provenance.media import _imageio
from provenance.report import MetadataFact

__all__ = [
    "IJG_CHROMINANCE",
    "IJG_LUMINANCE",
    "QualityEstimate",
    "estimate_jpeg_quality",
    "ijg_tables",
    "metadata_facts",
]

IJG_LUMINANCE: Final = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
"""ITU-T T.81 Annex K.1 luminance table, natural (row-major) order."""

IJG_CHROMINANCE: Final = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)  # fmt: skip
"""ITU-T T.81 Annex K.2 chrominance table, natural order."""

_ZIGZAG: Final = (
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
)  # fmt: skip
"""Zigzag position k -> natural index (DQT stores tables in zigzag order)."""

_PDQ_MATCH: Final = 31
_PDQ_REVIEW: Final = 52
_THUMB_SIDE: Final = 512


# --------------------------------------------------------------------------- JPEG quality


def ijg_tables(quality: int) -> npt.NDArray[np.int64]:
    """The IJG (libjpeg ``jpeg_set_quality``) tables for a quality, natural order.

    Parameters
    ----------
    quality : int
        1 to 100.

    Returns
    -------
    numpy.ndarray
        ``(2, 64)``: luminance, chrominance (baseline: clamped to 1..255).

    Examples
    --------
    >>> ijg_tables(50)[0, :3].tolist()
    [16, 11, 10]
    >>> int(ijg_tables(100).max())
    1
    """
    q = min(max(int(quality), 1), 100)
    scale = 5000 // q if q < 50 else 200 - 2 * q
    base = np.array([IJG_LUMINANCE, IJG_CHROMINANCE], dtype=np.int64)
    return np.clip((base * scale + 50) // 100, 1, 255)


_ALL_IJG: Final = np.stack([ijg_tables(q) for q in range(1, 101)])  # (100, 2, 64)


@dataclass(frozen=True)
class QualityEstimate:
    """An estimated JPEG quality and how well IJG tables explain the file's tables."""

    quality: int
    """Closest IJG quality (1-100)."""
    standard: bool
    """True when every table equals the IJG table at ``quality`` exactly."""
    max_deviation: int
    """Largest difference between a table entry and the IJG entry at ``quality``."""
    tables: int
    """Number of quantisation tables compared (1 for greyscale, usually 2)."""


def _dqt_tables(data: bytes) -> dict[int, npt.NDArray[np.int64]]:
    """Quantisation tables by id, natural order (the last definition of an id wins)."""
    tables: dict[int, npt.NDArray[np.int64]] = {}
    for seg in _imageio.jpeg_segments(data):
        if seg.marker != 0xDB:
            continue
        body, pos = seg.payload, 0
        while pos < len(body):
            precision, tid = body[pos] >> 4, body[pos] & 0x0F
            size = 128 if precision else 64
            raw = body[pos + 1 : pos + 1 + size]
            if len(raw) != size or tid > 3:
                break
            values = struct.unpack(">64H" if precision else "64B", raw)
            natural = np.zeros(64, dtype=np.int64)
            natural[list(_ZIGZAG)] = values
            tables[tid] = natural
            pos += 1 + size
    return tables


def estimate_jpeg_quality(data: bytes) -> QualityEstimate | None:
    """Estimate the quality a JPEG file was saved with, from its quantisation tables.

    The IJG scaling (``scale = 5000/q`` below 50, ``200 - 2q`` above;
    ``entry = (base · scale + 50) / 100`` clamped to 1..255) is inverted by searching
    the quality whose tables are closest (sum of absolute differences) to the file's
    tables 0 (luminance) and 1 (chrominance).

    Parameters
    ----------
    data : bytes
        The JPEG file.

    Returns
    -------
    QualityEstimate or None
        None when the file has no readable quantisation table.
    """
    tables = _dqt_tables(data)
    if 0 not in tables:
        return None
    ids = [0, 1] if 1 in tables else [0]
    actual = np.stack([tables[i] for i in ids])  # (t, 64)
    candidates = _ALL_IJG[:, : len(ids)]  # (100, t, 64)
    err = np.abs(candidates - actual[None]).sum(axis=(1, 2))
    best = int(np.argmin(err))
    deviation = int(np.abs(candidates[best] - actual).max())
    return QualityEstimate(best + 1, deviation == 0, deviation, len(ids))


# --------------------------------------------------------------------------- small helpers


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_EXIF_DATE: Final = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET: Final = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def _parse_time(text: str | None, offset: str | None = None) -> tuple[datetime, bool] | None:
    """Parse an EXIF or ISO 8601 time; returns (aware UTC time, zone known)."""
    if not text:
        return None
    text = text.strip()
    try:
        if "T" in text or text[4:5] == "-":
            iso = text.replace("Z", "+00:00")
            if len(iso) == 10:
                iso += "T00:00:00"
            dt = datetime.fromisoformat(iso)
            if dt.tzinfo is not None:
                return dt.astimezone(UTC), True
            return dt.replace(tzinfo=UTC), False
        m = _EXIF_DATE.match(text)
        if m is None:
            return None
        y, mo, d, h, mi, se = (int(g) for g in m.groups())
        dt = datetime(y, mo, d, h, mi, se, tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    if offset:
        om = _OFFSET.match(offset.strip())
        if om:
            sign = 1 if om.group(1) == "+" else -1
            delta = timedelta(hours=int(om.group(2)), minutes=int(om.group(3)))
            return dt - sign * delta, True
    return dt, False


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "0 s"


# --------------------------------------------------------------------------- XMP


_NS: Final = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
}


def _xmp_root(packet: str) -> ET.Element | None:
    if "<!DOCTYPE" in packet or "<!ENTITY" in packet:
        return None
    try:
        return ET.fromstring(packet)
    except ET.ParseError:
        return None


def _xmp_field(root: ET.Element, prefix: str, local: str) -> str | None:
    tag = f"{{{_NS[prefix]}}}{local}"
    for el in root.iter():
        attr = el.attrib.get(tag)
        if attr and attr.strip():
            return attr.strip()
        if el.tag == tag:
            if el.text and el.text.strip():
                return el.text.strip()
            for li in el.iter(f"{{{_NS['rdf']}}}li"):
                if li.text and li.text.strip():
                    return li.text.strip()
    return None


def _xmp_history(root: ET.Element) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    for hist in root.iter(f"{{{_NS['xmpMM']}}}History"):
        for li in hist.iter(f"{{{_NS['rdf']}}}li"):
            event: dict[str, str] = {}
            for local, key in (
                ("action", "action"),
                ("softwareAgent", "software_agent"),
                ("when", "when"),
                ("changed", "changed"),
            ):
                tag = f"{{{_NS['stEvt']}}}{local}"
                val = li.attrib.get(tag)
                if val is None:
                    child = li.find(f".//{tag}")
                    val = child.text if child is not None else None
                if val and val.strip():
                    event[key] = _clip(val.strip(), 120)
            if event:
                events.append(event)
            if len(events) >= 200:
                return events
    return events


# --------------------------------------------------------------------------- EXIF helpers


def _ifd1_thumbnail(tiff: bytes) -> bytes | None:
    """The JPEG thumbnail referenced by IFD1 (JPEGInterchangeFormat), if any."""
    if len(tiff) < 8:
        return None
    endian = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd0,) = struct.unpack(endian + "I", tiff[4:8])
        (count,) = struct.unpack(endian + "H", tiff[ifd0 : ifd0 + 2])
        (ifd1,) = struct.unpack(endian + "I", tiff[ifd0 + 2 + 12 * count : ifd0 + 6 + 12 * count])
        if ifd1 == 0 or ifd1 + 2 > len(tiff):
            return None
        (count1,) = struct.unpack(endian + "H", tiff[ifd1 : ifd1 + 2])
        offset = length = None
        for i in range(min(count1, 512)):
            entry = tiff[ifd1 + 2 + 12 * i : ifd1 + 14 + 12 * i]
            tag, _typ, _n, value = struct.unpack(endian + "HHII", entry)
            if tag == 0x0201:
                offset = value
            elif tag == 0x0202:
                length = value
    except struct.error:
        return None
    if offset is None or not length or offset + length > len(tiff):
        return None
    thumb = tiff[offset : offset + length]
    return thumb if thumb.startswith(b"\xff\xd8") else None


def _rational(value: Any) -> float | None:
    try:
        if isinstance(value, tuple) and len(value) == 2:
            return float(value[0]) / float(value[1])
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _gps_coordinates(gps: Any) -> tuple[float, float] | None:
    try:
        lat_raw, lon_raw = gps.get(2), gps.get(4)
        if not lat_raw or not lon_raw:
            return None
        parts = [[_rational(x) for x in raw] for raw in (lat_raw, lon_raw)]
        if any(p is None for ps in parts for p in ps) or any(len(ps) != 3 for ps in parts):
            return None
        lat = parts[0][0] + parts[0][1] / 60 + parts[0][2] / 3600  # type: ignore[operator]
        lon = parts[1][0] + parts[1][1] / 60 + parts[1][2] / 3600  # type: ignore[operator]
        if _text(gps.get(1)) == "S":
            lat = -lat
        if _text(gps.get(3)) == "W":
            lon = -lon
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        return round(lat, 6), round(lon, 6)
    except (TypeError, ValueError, AttributeError, IndexError):
        return None


def _trim_letterbox(thumb: npt.NDArray[np.uint8], aspect: float) -> npt.NDArray[np.uint8]:
    """Drop black bars around a thumbnail when that brings it to the picture's aspect.

    Cameras fit a 3:2 picture into a 160x120 thumbnail with black bars; hashing the bars
    would make every such thumbnail "differ".
    """
    # Mean, not max: JPEG ringing leaves a few bright pixels in the bar next to the picture.
    dark_rows = thumb.mean(axis=(1, 2)) < 24
    dark_cols = thumb.mean(axis=(0, 2)) < 24

    def run(flags: npt.NDArray[np.bool_]) -> int:
        return int(np.argmin(flags)) if not flags.all() else flags.size

    top, bottom = run(dark_rows), run(dark_rows[::-1])
    left, right = run(dark_cols), run(dark_cols[::-1])
    h, w = thumb.shape[:2]
    if top + bottom >= h - 8 or left + right >= w - 8 or not (top or bottom or left or right):
        return thumb
    cropped = thumb[top : h - bottom, left : w - right]
    before = abs(math.log((w / h) / aspect))
    after = abs(math.log((cropped.shape[1] / cropped.shape[0]) / aspect))
    return cropped if after < before else thumb


def _pdq(rgb: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.bool_], int] | None:

    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    try:
        bits, quality = pdqhash.compute(arr)
    except Exception:  # the C++ binding raises on degenerate input
        return None
    return np.asarray(bits, dtype=bool), int(quality)


# --------------------------------------------------------------------------- facts


def _software_facts(exif: Any, where: str) -> list[MetadataFact]:
    out: list[MetadataFact] = []
    labels = (
        (0x0131, "exif.Software", "Software", "the program that wrote or last edited the file"),
        (0x000B, "exif.ProcessingSoftware", "ProcessingSoftware", "the processing program"),
        (0x013C, "exif.HostComputer", "HostComputer", "the computer or device used"),
    )
    for tag, kind, name, meaning in labels:
        value = _text(exif.get(tag))
        if value:
            out.append(
                MetadataFact(
                    kind,
                    f'{where} {name} says "{_clip(value)}" ({meaning}, as recorded).',
                    _clip(value),
                )
            )
    make, model = _text(exif.get(0x010F)), _text(exif.get(0x0110))
    if make or model:
        camera = " ".join(x for x in (make, model) if x)
        out.append(
            MetadataFact(
                "exif.Camera",
                f'{where} names the camera "{_clip(camera)}".',
                {"make": make and _clip(make), "model": model and _clip(model)},
            )
        )
    return out


def _date_facts(
    original: tuple[str, tuple[datetime, bool]] | None,
    modified: tuple[str, tuple[datetime, bool]] | None,
    signing: tuple[str, tuple[datetime, bool]] | None,
    raw: dict[str, str],
) -> list[MetadataFact]:
    out: list[MetadataFact] = []
    if raw:
        listing = "; ".join(f"{k} {v}" for k, v in raw.items())
        out.append(MetadataFact("dates", f"Recorded times: {listing}.", dict(raw)))
    pairs = (
        ("dates.modified_vs_original", modified, original),
        ("dates.signing_vs_original", signing, original),
        ("dates.signing_vs_modified", signing, modified),
    )
    for kind, later, earlier in pairs:
        if later is None or earlier is None:
            continue
        (lname, (ltime, lzone)), (ename, (etime, ezone)) = later, earlier
        delta = ltime - etime
        seconds = int(delta.total_seconds())
        exact = lzone and ezone
        if seconds == 0:
            sentence = f"{lname} equals {ename}"
        elif seconds > 0:
            sentence = f"{lname} is {_span(delta)} after {ename}"
        else:
            sentence = f"{lname} is {_span(delta)} before {ename}"
        if not exact:
            sentence += " (a time without a zone was read as UTC, so this may be off by hours)"
        out.append(
            MetadataFact(
                kind,
                sentence + ".",
                {"seconds": seconds, "zones_known": exact, "later": lname, "earlier": ename},
            )
        )
    return out


def _trailing_fact(data: bytes, container: str) -> MetadataFact | None:
    found = _imageio.trailing_data(data)
    if found is None or found[1] == 0:
        return None
    end, count = found
    head = data[end : end + 65536]
    padding = len(head) - len(head.lstrip(b"\x00"))
    tail = head[padding:]
    marker = {"jpeg": "EOI marker", "png": "IEND chunk", "webp": "RIFF size"}[container]
    if not tail:
        looks = "zero padding"
    elif tail.startswith(b"\xff\xd8"):
        looks = "another JPEG image (e.g. a multi-picture/MPF secondary image or a hidden one)"
        if container == "jpeg" and any(
            seg.marker == 0xE2 and seg.payload.startswith(b"MPF\x00")
            for seg in _imageio.jpeg_segments(data)
        ):
            looks += "; the file's MPF index (APP2) declares extra images, as cameras write"
    elif tail.startswith(b"PK\x03\x04"):
        looks = "a ZIP archive"
    elif tail.startswith(b"\x89PNG"):
        looks = "a PNG image"
    elif b"jumb" in tail[:64] or b"c2pa" in tail[:64]:
        looks = "JUMBF/C2PA data"
    else:
        looks = "unidentified data"
    if padding and tail:
        looks = f"{padding} zero bytes, then {looks}"
    return MetadataFact(
        "trailing_data",
        f"{count} bytes follow the end of the image (after the {marker}); they look like {looks}.",
        {"bytes": count, "offset": end, "looks_like": looks},
    )


def _quality_facts(data: bytes) -> list[MetadataFact]:
    est = estimate_jpeg_quality(data)
    if est is None:
        return []
    if est.standard:
        q_msg = f"Estimated JPEG quality {est.quality} (the tables are IJG tables scaled exactly)."
        t_msg = (
            f"The quantisation tables are standard IJG (libjpeg) tables at quality "
            f"{est.quality}, as written by libjpeg, libjpeg-turbo, Pillow and many web tools."
        )
    else:
        q_msg = (
            f"Estimated JPEG quality about {est.quality} (closest IJG tables; entries differ "
            f"by up to {est.max_deviation})."
        )
        t_msg = (
            "The quantisation tables are not scaled IJG tables: another encoder wrote them "
            "(a camera, a phone, Photoshop, mozjpeg, ...)."
        )
    detail = {
        "quality": est.quality,
        "standard_ijg": est.standard,
        "max_deviation": est.max_deviation,
        "tables": est.tables,
    }
    return [
        MetadataFact("jpeg.quality", q_msg, detail),
        MetadataFact("jpeg.quantization", t_msg, {"standard_ijg": est.standard}),
    ]


def _thumbnail_fact(data: bytes, thumb: bytes, where: str) -> MetadataFact | None:

    small = _imageio.load_rgb(thumb, max_side=_THUMB_SIDE)
    if small is None:
        return MetadataFact(
            "exif.thumbnail",
            f"{where} holds a thumbnail that cannot be decoded.",
            {"bytes": len(thumb)},
        )
    full = _imageio.load_rgb(data, max_side=_THUMB_SIDE)
    if full is None:
        return None
    trimmed = _trim_letterbox(small, full.shape[1] / full.shape[0])
    # Compare at the thumbnail's own size, so both sides carry the same detail.
    same_size = np.asarray(
        Image.fromarray(full).resize(
            (trimmed.shape[1], trimmed.shape[0]), Image.Resampling.LANCZOS
        ),
        dtype=np.uint8,
    )
    a, b = _pdq(trimmed), _pdq(same_size)
    if a is None or b is None:
        return None
    distance = int(np.count_nonzero(a[0] != b[0]))
    quality = min(a[1], b[1])
    detail = {
        "pdq_distance": distance,
        "pdq_quality": quality,
        "thumbnail_size": [int(small.shape[1]), int(small.shape[0])],
        "letterbox_trimmed": trimmed.shape != small.shape,
        "image_size": [int(full.shape[1]), int(full.shape[0])],
    }
    if distance <= _PDQ_MATCH:
        detail["band"] = "MATCH"
        msg = f"The embedded EXIF thumbnail matches the picture (PDQ distance {distance}/256)."
    elif distance <= _PDQ_REVIEW:
        detail["band"] = "REVIEW"
        msg = (
            f"The embedded EXIF thumbnail is close to the picture but not a clear match (PDQ "
            f"distance {distance}/256): compare them by eye (a crop or an edit can do this)."
        )
    else:
        detail["band"] = "DIFFERS"
        msg = (
            f"The embedded EXIF thumbnail differs from the picture (PDQ distance {distance}/256;"
            f" {_PDQ_MATCH} or less would be the same picture): the picture may have been "
            "edited or replaced without updating the thumbnail."
        )
    if quality < 50:
        msg += f" PDQ quality is low ({quality}), so the distance is less reliable."
    return MetadataFact("exif.thumbnail", msg, detail)


def _gps_fact(gps_coords: tuple[float, float] | None, show: bool) -> MetadataFact:
    if gps_coords is None:
        return MetadataFact(
            "gps", "A GPS block is present but holds no readable coordinates.", {"present": True}
        )
    if show:
        lat, lon = gps_coords
        return MetadataFact(
            "gps",
            f"GPS coordinates are present: {lat:.6f}, {lon:.6f}.",
            {"present": True, "latitude": lat, "longitude": lon},
        )
    return MetadataFact(
        "gps",
        "GPS coordinates are present (redacted; use --show-gps to include them).",
        {"present": True, "redacted": True},
    )


_Dated = tuple[str, tuple[datetime, bool]]


@dataclass
class _Seen:
    """What the EXIF and XMP blocks said so far (the first value of each kind wins)."""

    raw_dates: dict[str, str] = field(default_factory=dict)
    original: _Dated | None = None
    modified: _Dated | None = None
    thumbnail: tuple[bytes, str] | None = None
    gps_seen: bool = False
    gps_coords: tuple[float, float] | None = None

    def date(self, slot: str, label: str, parsed: tuple[datetime, bool] | None) -> None:
        if parsed is None:
            return
        if slot == "original" and self.original is None:
            self.original = (label, parsed)
        elif slot == "modified" and self.modified is None:
            self.modified = (label, parsed)


def _exif_facts(data: bytes, seen: _Seen) -> Iterable[MetadataFact]:
    for where, blob in _imageio.exif_blobs(data)[:4]:
        exif = _imageio.load_exif(blob)
        if exif is None:
            continue
        yield from _software_facts(exif, where)
        exif_ifd = exif.get_ifd(0x8769)
        dto = _text(exif_ifd.get(0x9003))
        mod = _text(exif.get(0x0132))
        if dto and seen.original is None:
            seen.raw_dates["EXIF DateTimeOriginal"] = _clip(dto, 40)
            parsed = _parse_time(dto, _text(exif_ifd.get(0x9011)))
            seen.date("original", "EXIF DateTimeOriginal", parsed)
        if mod and seen.modified is None:
            seen.raw_dates["EXIF DateTime (modified)"] = _clip(mod, 40)
            parsed = _parse_time(mod, _text(exif_ifd.get(0x9010)))
            seen.date("modified", "EXIF DateTime (modified)", parsed)
        gps = exif.get_ifd(0x8825)
        if gps and not seen.gps_seen:
            seen.gps_seen = True
            seen.gps_coords = _gps_coordinates(gps)
        if seen.thumbnail is None:
            thumb = _ifd1_thumbnail(blob)
            if thumb is not None:
                seen.thumbnail = (thumb, where)


def _history_fact(history: list[dict[str, str]]) -> MetadataFact:
    shown = "; ".join(
        " ".join(
            x
            for x in (
                e.get("action", "?"),
                f"with {e['software_agent']}" if "software_agent" in e else "",
                f"at {e['when']}" if "when" in e else "",
            )
            if x
        )
        for e in history[:8]
    )
    more = f" (and {len(history) - 8} more)" if len(history) > 8 else ""
    return MetadataFact(
        "xmp.History",
        f"The XMP editing history lists {len(history)} event(s): {shown}{more}.",
        history,
    )


_XMP_DATES: Final = (
    ("exif", "DateTimeOriginal", "XMP exif:DateTimeOriginal", "original"),
    ("photoshop", "DateCreated", "XMP photoshop:DateCreated", "original"),
    ("xmp", "ModifyDate", "XMP xmp:ModifyDate", "modified"),
)


def _xmp_facts(data: bytes, seen: _Seen) -> Iterable[MetadataFact]:
    for where, packet in _imageio.xmp_packets(data)[:4]:
        root = _xmp_root(packet)
        if root is None:
            continue
        tool = _xmp_field(root, "xmp", "CreatorTool")
        if tool:
            yield MetadataFact(
                "xmp.CreatorTool",
                f'{where} CreatorTool says "{_clip(tool)}" (the program that created the file).',
                _clip(tool),
            )
        history = _xmp_history(root)
        if history:
            yield _history_fact(history)
        for prefix, local, label, slot in _XMP_DATES:
            value = _xmp_field(root, prefix, local)
            if value:
                seen.raw_dates[label] = _clip(value, 40)
                seen.date(slot, label, _parse_time(value))
        if _xmp_field(root, "exif", "GPSLatitude") and not seen.gps_seen:
            seen.gps_seen = True


def _container_facts(data: bytes, container: str) -> Iterable[MetadataFact]:
    if container == "jpeg":
        yield from _quality_facts(data)
        for seg in _imageio.jpeg_segments(data):
            if seg.marker == 0xED and b"FBMD" in seg.payload:
                yield MetadataFact(
                    "platform.marker",
                    "The IPTC block carries an FBMD marker, which Facebook writes when it "
                    "re-encodes an upload.",
                    "FBMD",
                )
                break
    if container in ("jpeg", "png", "webp"):
        trailing = _trailing_fact(data, container)
        if trailing is not None:
            yield trailing


def _collect(data: bytes, signing_time: str | None, show_gps: bool) -> Iterable[MetadataFact]:
    container = _imageio.sniff(data).name
    if container not in ("jpeg", "png", "webp", "tiff"):
        return
    seen = _Seen()
    yield from _exif_facts(data, seen)
    yield from _xmp_facts(data, seen)
    signing: _Dated | None = None
    if signing_time:
        seen.raw_dates["C2PA signing time"] = _clip(signing_time, 40)
        parsed = _parse_time(signing_time)
        if parsed:
            signing = ("The C2PA signing time", parsed)
    yield from _date_facts(seen.original, seen.modified, signing, seen.raw_dates)
    if seen.thumbnail is not None:
        fact = _thumbnail_fact(data, seen.thumbnail[0], seen.thumbnail[1])
        if fact is not None:
            yield fact
    yield from _container_facts(data, container)
    if seen.gps_seen:
        yield _gps_fact(seen.gps_coords, show_gps)


def metadata_facts(
    data: bytes,
    media_type: str | None,
    *,
    signing_time: str | None = None,
    show_gps: bool = False,
) -> tuple[MetadataFact, ...]:
    """Collect metadata and structure facts about a picture.

    Parameters
    ----------
    data : bytes
        The file contents.
    media_type : str or None
        The sniffed media type; informative only (the container is sniffed again).
    signing_time : str or None, optional
        The C2PA signing time (RFC 3339), compared with the recorded times.
    show_gps : bool, optional
        Include GPS coordinates instead of redacting them.

    Returns
    -------
    tuple of MetadataFact
        Facts in the order listed in the module docstring; empty for containers other
        than JPEG, PNG, WebP and TIFF, and for unreadable data.

    Examples
    --------
    >>> metadata_facts(b"garbage", None)
    ()
    """
    del media_type  # the container is sniffed from the bytes themselves
    facts: list[MetadataFact] = []
    try:
        for fact in _collect(data, signing_time, show_gps):
            facts.append(fact)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, struct.error):
        # Defensive: keep the facts gathered before a parser surprise.
        pass
    return tuple(facts)
