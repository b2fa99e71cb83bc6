"""Tests for provenance.signals.metadata: metadata and structure facts on generated files."""

from __future__ import annotations

import io
import json
import struct
from functools import cache

import numpy as np
import pytest
import skimage.data
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from provenance.signals.metadata import estimate_jpeg_quality, ijg_tables, metadata_facts


@cache
def astronaut() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


def jpeg(img: Image.Image | None = None, **kw) -> bytes:
    buf = io.BytesIO()
    (img or astronaut()).save(buf, "JPEG", **kw)
    return buf.getvalue()


def by_kind(facts) -> dict:
    out: dict = {}
    for f in facts:
        out.setdefault(f.kind, f)
    return out


def exif_with(**ifd0) -> Image.Exif:
    exif = Image.Exif()
    for tag, value in ifd0.items():
        exif[int(tag[1:], 16)] = value
    return exif


def tiff_with_thumbnail(thumb: bytes, software: str = "Camera FW 1.0") -> bytes:
    """A little-endian TIFF: IFD0 (Software) -> IFD1 (JPEG thumbnail offset and length)."""
    sw = software.encode() + b"\x00"
    ifd0_at = 8
    ifd0_size = 2 + 12 + 4
    sw_at = ifd0_at + ifd0_size
    ifd1_at = sw_at + len(sw)
    ifd1_size = 2 + 2 * 12 + 4
    thumb_at = ifd1_at + ifd1_size
    out = b"II*\x00" + struct.pack("<I", ifd0_at)
    out += struct.pack("<H", 1) + struct.pack("<HHII", 0x0131, 2, len(sw), sw_at)
    out += struct.pack("<I", ifd1_at) + sw
    out += struct.pack("<H", 2)
    out += struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
    out += struct.pack("<HHII", 0x0202, 4, 1, len(thumb))
    out += struct.pack("<I", 0) + thumb
    return out


# --------------------------------------------------------------------------- software


def test_exif_software_processing_host_and_camera():
    exif = exif_with(
        x0131="Adobe Photoshop 25.0 (Windows)",
        x000B="Lightroom Classic",
        x013C="Jane's MacBook",
        x010F="Canon",
        x0110="EOS R5",
    )
    facts = by_kind(metadata_facts(jpeg(exif=exif.tobytes()), "image/jpeg"))
    assert facts["exif.Software"].value == "Adobe Photoshop 25.0 (Windows)"
    assert "Photoshop" in facts["exif.Software"].message
    assert facts["exif.ProcessingSoftware"].value == "Lightroom Classic"
    assert facts["exif.HostComputer"].value == "Jane's MacBook"
    assert facts["exif.Camera"].value == {"make": "Canon", "model": "EOS R5"}


def test_png_exif_chunk_is_read():
    buf = io.BytesIO()
    astronaut().save(buf, "PNG", exif=exif_with(x0131="GIMP 2.10").tobytes())
    facts = by_kind(metadata_facts(buf.getvalue(), "image/png"))
    assert facts["exif.Software"].value == "GIMP 2.10"
    assert "PNG eXIf" in facts["exif.Software"].message


# --------------------------------------------------------------------------- XMP

XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
 xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
 xmlns:exif="http://ns.adobe.com/exif/1.0/">
<rdf:Description rdf:about="" xmp:CreatorTool="Adobe Photoshop 25.0 (Macintosh)"
 xmp:ModifyDate="2024-05-03T12:00:00+02:00" exif:DateTimeOriginal="2024-05-01T08:30:00+02:00">
<xmpMM:History><rdf:Seq>
 <rdf:li stEvt:action="created" stEvt:softwareAgent="Adobe Photoshop 25.0"
   stEvt:when="2024-05-01T09:00:00+02:00"/>
 <rdf:li><stEvt:action>saved</stEvt:action><stEvt:softwareAgent>GIMP 2.10</stEvt:softwareAgent>
   <stEvt:changed>/</stEvt:changed></rdf:li>
</rdf:Seq></xmpMM:History></rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_xmp_creator_tool_history_and_dates():
    facts = metadata_facts(
        jpeg(xmp=XMP.encode()), "image/jpeg", signing_time="2024-05-03T10:00:30Z"
    )
    k = by_kind(facts)
    assert k["xmp.CreatorTool"].value == "Adobe Photoshop 25.0 (Macintosh)"
    history = k["xmp.History"].value
    assert history[0] == {
        "action": "created",
        "software_agent": "Adobe Photoshop 25.0",
        "when": "2024-05-01T09:00:00+02:00",
    }
    assert history[1]["action"] == "saved" and history[1]["software_agent"] == "GIMP 2.10"
    assert "2 event(s)" in k["xmp.History"].message
    mod = k["dates.modified_vs_original"].value
    assert mod["seconds"] == 2 * 86400 + 3.5 * 3600 and mod["zones_known"] is True
    sig = k["dates.signing_vs_modified"]
    assert sig.value["seconds"] == 30 and "30 s after" in sig.message
    assert "off by hours" not in sig.message


def test_exif_dates_with_and_without_offset():
    exif = exif_with(x0132="2024:05:01 10:00:00")
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 09:00:00"
    exif.get_ifd(0x8769)[0x9011] = "+09:00"
    facts = by_kind(
        metadata_facts(jpeg(exif=exif.tobytes()), None, signing_time="2024-05-01T00:00:00Z")
    )
    # DateTimeOriginal 09:00 at +09:00 is 00:00 UTC; DateTime has no zone (read as UTC).
    assert facts["dates.signing_vs_original"].value == {
        "seconds": 0,
        "zones_known": True,
        "later": "The C2PA signing time",
        "earlier": "EXIF DateTimeOriginal",
    }
    mod = facts["dates.modified_vs_original"]
    assert mod.value["seconds"] == 10 * 3600 and not mod.value["zones_known"]
    assert "off by hours" in mod.message
    before = facts["dates.signing_vs_modified"]
    assert before.value["seconds"] == -10 * 3600 and "before" in before.message


def test_unparseable_dates_are_listed_not_compared():
    exif = exif_with(x0132="not a date")
    k = by_kind(metadata_facts(jpeg(exif=exif.tobytes()), None, signing_time="garbage"))
    assert k["dates"].value == {
        "EXIF DateTime (modified)": "not a date",
        "C2PA signing time": "garbage",
    }
    assert not [f for f in k if f.startswith("dates.")]


# --------------------------------------------------------------------------- thumbnail


def thumb_of(img: Image.Image) -> bytes:
    small = img.copy()
    small.thumbnail((160, 160))
    return jpeg(small, quality=80)


def test_thumbnail_matching_picture():
    tiff = tiff_with_thumbnail(thumb_of(astronaut()))
    k = by_kind(metadata_facts(jpeg(exif=b"Exif\x00\x00" + tiff), "image/jpeg"))
    fact = k["exif.thumbnail"]
    assert fact.value["pdq_distance"] <= 31 and "matches" in fact.message
    assert fact.value["band"] == "MATCH" and fact.value["letterbox_trimmed"] is False
    assert fact.value["thumbnail_size"] == [160, 160]
    assert k["exif.Software"].value == "Camera FW 1.0"


def test_thumbnail_differing_from_picture():
    other = Image.fromarray(skimage.data.coffee())
    tiff = tiff_with_thumbnail(thumb_of(other))
    k = by_kind(metadata_facts(jpeg(exif=b"Exif\x00\x00" + tiff), "image/jpeg"))
    fact = k["exif.thumbnail"]
    assert fact.value["pdq_distance"] > 52 and "differs" in fact.message
    assert fact.value["band"] == "DIFFERS"


def test_letterboxed_camera_thumbnail_matches():
    wide = astronaut().resize((600, 400))
    inner = wide.resize((160, 106))
    canvas = Image.new("RGB", (160, 120))
    canvas.paste(inner, (0, 7))
    tiff = tiff_with_thumbnail(jpeg(canvas, quality=85))
    fact = by_kind(metadata_facts(jpeg(wide, exif=b"Exif\x00\x00" + tiff), None))["exif.thumbnail"]
    assert fact.value["letterbox_trimmed"] is True
    assert fact.value["band"] == "MATCH" and fact.value["thumbnail_size"] == [160, 120]


def test_undecodable_thumbnail():
    tiff = tiff_with_thumbnail(b"\xff\xd8\xff\xe0garbage")
    fact = by_kind(metadata_facts(jpeg(exif=b"Exif\x00\x00" + tiff), None))["exif.thumbnail"]
    assert "cannot be decoded" in fact.message


# --------------------------------------------------------------------------- JPEG quality


@pytest.mark.parametrize("quality", range(50, 96))
def test_quality_estimate_within_2(quality):
    est = estimate_jpeg_quality(jpeg(quality=quality))
    assert est is not None and abs(est.quality - quality) <= 2 and est.standard


def test_quality_facts_and_greyscale():
    k = by_kind(metadata_facts(jpeg(quality=77), "image/jpeg"))
    assert k["jpeg.quality"].value["quality"] == 77
    assert k["jpeg.quantization"].value == {"standard_ijg": True}
    grey = estimate_jpeg_quality(jpeg(astronaut().convert("L"), quality=66))
    assert grey is not None and grey.quality == 66 and grey.tables == 1


def test_non_standard_tables_are_recognised():
    # A camera-style table: the IJG q=90 tables with a few entries nudged.
    lum, chrom = (t.copy() for t in ijg_tables(90))
    lum[[5, 17, 40]] += 2
    chrom[0] += 1
    data = jpeg(qtables=[lum.tolist(), chrom.tolist()])
    est = estimate_jpeg_quality(data)
    assert est is not None and not est.standard and abs(est.quality - 90) <= 2
    k = by_kind(metadata_facts(data, "image/jpeg"))
    assert k["jpeg.quantization"].value == {"standard_ijg": False}
    assert "another encoder" in k["jpeg.quantization"].message


def test_flat_tables_estimate():
    data = jpeg(qtables=[[8] * 64, [8] * 64])
    est = estimate_jpeg_quality(data)
    assert est is not None and not est.standard and 85 <= est.quality <= 97


# --------------------------------------------------------------------------- trailing data


@pytest.mark.parametrize(
    ("tail", "looks"),
    [
        (b"secret appended payload", "unidentified data"),
        (b"\x00" * 100, "zero padding"),
        (b"PK\x03\x04" + b"x" * 30, "a ZIP archive"),
    ],
)
def test_trailing_after_jpeg_eoi(tail, looks):
    base = jpeg(quality=70)
    fact = by_kind(metadata_facts(base + tail, "image/jpeg"))["trailing_data"]
    assert fact.value == {"bytes": len(tail), "offset": len(base), "looks_like": looks}
    assert f"{len(tail)} bytes" in fact.message


def test_trailing_jpeg_after_jpeg():
    base = jpeg(quality=70)
    extra = jpeg(Image.new("RGB", (8, 8)))
    fact = by_kind(metadata_facts(base + extra, None))["trailing_data"]
    assert fact.value["bytes"] == len(extra) and "another JPEG" in fact.message


def test_trailing_after_png_iend_and_webp():
    buf = io.BytesIO()
    astronaut().save(buf, "PNG")
    fact = by_kind(metadata_facts(buf.getvalue() + b"extra!", "image/png"))["trailing_data"]
    assert fact.value["bytes"] == 6 and "IEND" in fact.message
    buf = io.BytesIO()
    astronaut().save(buf, "WEBP")
    fact = by_kind(metadata_facts(buf.getvalue() + b"12345678", "image/webp"))["trailing_data"]
    assert fact.value["bytes"] == 8


def test_no_trailing_fact_for_clean_files():
    assert "trailing_data" not in by_kind(metadata_facts(jpeg(), None))


def test_jpeg_with_progressive_scans_end_found():
    base = jpeg(quality=80, progressive=True)
    assert "trailing_data" not in by_kind(metadata_facts(base, None))
    assert by_kind(metadata_facts(base + b"abc", None))["trailing_data"].value["bytes"] == 3


# --------------------------------------------------------------------------- GPS


def gps_jpeg() -> bytes:
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "S", (33.0, 51.0, 54.0)
    gps[3], gps[4] = "E", (151.0, 12.0, 36.0)
    return jpeg(exif=exif.tobytes())


def test_gps_redacted_by_default():
    fact = by_kind(metadata_facts(gps_jpeg(), "image/jpeg"))["gps"]
    assert fact.value == {"present": True, "redacted": True}
    assert "33" not in fact.message and "151" not in json.dumps(fact.to_dict())


def test_gps_shown_on_request():
    fact = by_kind(metadata_facts(gps_jpeg(), "image/jpeg", show_gps=True))["gps"]
    assert fact.value["latitude"] == pytest.approx(-33.865)
    assert fact.value["longitude"] == pytest.approx(151.21)


def test_no_gps_fact_without_gps():
    assert "gps" not in by_kind(metadata_facts(jpeg(), None))


# --------------------------------------------------------------------------- misc and garbage


def test_facebook_marker():
    body = b"Photoshop 3.0\x00\x1c\x02\x67\x00\x20FBMD0100000000000000000000000000"
    data = jpeg(quality=70)
    data = data[:2] + b"\xff\xed" + struct.pack(">H", len(body) + 2) + body + data[2:]
    assert "platform.marker" in by_kind(metadata_facts(data, None))


def test_facts_are_json_ready():
    data = jpeg(xmp=XMP.encode(), exif=exif_with(x0131="X").tobytes()) + b"tail"
    facts = metadata_facts(data, None, signing_time="2024-01-01T00:00Z")
    assert facts, "the file has software, XMP and trailing data: facts expected"
    decoded = json.loads(json.dumps([f.to_dict() for f in facts]))
    assert all(d["kind"] and d["message"] for d in decoded)


def test_png_text_only_file_has_no_facts():
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "x")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG", pnginfo=info)
    assert metadata_facts(buf.getvalue(), "image/png") == ()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"\xff\xd8\xff\xdb\x00\x05\x00",
        b"\xff\xd8\xff\xe1\x00\x20Exif\x00\x00II*\x00\xff\xff\xff\x7f" + b"\x00" * 16,
        b"\xff\xd8\xff\xe1\x00\x12Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
        b"RIFF\x04\x00\x00\x00WEBP",
    ],
)
def test_garbage_never_raises(data):
    assert isinstance(metadata_facts(data, None, signing_time="2024-99-99"), tuple)


def test_truncated_and_corrupted_files_never_raise():
    rng = np.random.default_rng(5)
    tiff = tiff_with_thumbnail(thumb_of(astronaut()))
    good = jpeg(exif=b"Exif\x00\x00" + tiff, xmp=XMP.encode())
    for _ in range(60):
        cut = bytearray(good[: rng.integers(4, len(good))])
        for i in rng.integers(0, min(len(cut), 3000), size=8):
            cut[i] = rng.integers(0, 256)
        facts = metadata_facts(bytes(cut), "image/jpeg", signing_time="2024-01-01T00:00:00Z")
        assert all(f.kind and f.message for f in facts)


MAGICS = [
    b"\xff\xd8\xff\xe1",
    b"\xff\xd8\xff\xdb",
    b"\x89PNG\r\n\x1a\n",
    b"RIFF\x00\x10\x00\x00WEBP",
]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MAGICS), st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(magic, body):
    facts = metadata_facts(magic + body, None, signing_time="2024-01-01T00:00:00Z", show_gps=True)
    assert all(f.kind and f.message for f in facts)
    json.dumps([f.to_dict() for f in facts])
