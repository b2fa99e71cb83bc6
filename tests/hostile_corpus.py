"""A seeded, reproducible corpus of malformed media files (hostile input).

``make_corpus(directory, count=2000, seed=13)`` writes the same files for the same seed:
well-formed seeds of every format the project reads (JPEG, PNG, WebP, GIF, TIFF, AVIF,
HEIC, JXL, MP4, MOV, MP3, WAV, PDF, SVG), each mutated by truncation, bit flips, header and
box-length lies, huge declared dimensions, decompression bombs (PNG zTXt/iCCP/IDAT, TIFF
deflate), JUMBF/C2PA box loops and lies, and MP4 box loops.

A plain module with a unique name, importable as ``from hostile_corpus import ...`` from the
tests and, with ``tests/`` on ``sys.path``, from ``benchmarks/``.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import wave
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["MUTATIONS", "bmff_box", "jumbf_box", "make_corpus", "seeds"]

_C2PA_UUID = bytes.fromhex("6332706100110010800000aa00389b71")


def _picture(width: int = 48, height: int = 32, seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bmff_box(kind: bytes, body: bytes, *, size: int | None = None) -> bytes:
    """An ISO BMFF box; ``size`` overrides the declared size (a lie)."""
    return struct.pack(">I", len(body) + 8 if size is None else size) + kind + body


def jumbf_box(label: str, content: bytes, *, lie: int | None = None) -> bytes:
    """A C2PA JUMBF superbox (``jumb`` with a ``jumd`` description) around ``content``."""
    jumd = bmff_box(b"jumd", _C2PA_UUID + b"\x03" + label.encode() + b"\x00")
    return bmff_box(b"jumb", jumd + content, size=lie)


def _jpeg_with_app11(jpeg: bytes, jumbf: bytes) -> bytes:
    body = b"JP" + b"\x00\x01" + b"\x00\x00\x00\x01" + jumbf
    length = min(len(body) + 2, 0xFFFF)
    return jpeg[:2] + b"\xff\xeb" + struct.pack(">H", length) + body[: length - 2] + jpeg[2:]


def _mp3() -> bytes:
    header = b"\xff\xfb\x90\x64"  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
    frame = header + bytes(413)
    return b"ID3\x03\x00\x00\x00\x00\x00\x0aTIT2\x00\x00\x00\x00\x00\x00" + frame * 8


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.arange(800, dtype=np.int16).tobytes())
    return buf.getvalue()


def _pdf() -> bytes:
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
    ]
    out = b"%PDF-1.7\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer << /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref


def _svg(width: str = "48", height: str = "32") -> bytes:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        '<rect width="10" height="10" fill="red"/></svg>'
    ).encode()


def _video(fmt: str) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.asarray(_picture(32, 32, i)), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def _heic(avif: bytes) -> bytes:
    """An AVIF whose ``ftyp`` names HEIC brands (HEIF readers take the same boxes)."""
    return avif.replace(b"avif", b"heic", 2)


def seeds() -> dict[str, bytes]:
    """Well-formed small files of every format, named by extension."""
    img = _picture()
    out = {
        "jpg": _save(img, "JPEG", quality=85),
        "png": _save(img, "PNG"),
        "webp": _save(img, "WEBP", quality=80),
        "gif": _save(img.convert("P"), "GIF"),
        "tif": _save(img, "TIFF", compression="tiff_deflate"),
        "avif": _save(img, "AVIF", quality=60),
        "jxl": b"\xff\x0a" + bytes(range(64)),
        "mp3": _mp3(),
        "wav": _wav(),
        "pdf": _pdf(),
        "svg": _svg(),
    }
    out["heic"] = _heic(out["avif"])
    wide = _picture(192, 160, seed=2)  # large enough for the watermark reader
    out["w.jpg"] = _save(wide, "JPEG", quality=90)
    out["w.png"] = _save(wide, "PNG")
    try:
        out["mp4"] = _video("mp4")
        out["mov"] = _video("mov")
    except ImportError:  # PyAV is in the video extra, which the tests install
        pass
    return out


# ------------------------------------------------------------------------------ mutations

Mutation = Callable[[bytes, str, random.Random], bytes]


def _truncate(data: bytes, ext: str, rng: random.Random) -> bytes:
    return data[: max(1, int(len(data) * rng.random()))]


def _flip(data: bytes, ext: str, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 4, 32))):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _overwrite(data: bytes, ext: str, rng: random.Random) -> bytes:
    out = bytearray(data)
    i = rng.randrange(min(len(out), 256))
    value = rng.choice((b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x80"))
    out[i : i + len(value)] = value
    return bytes(out)


_HUGE = ((12000, 12000), (65535, 65535), (0, 0), (1, 100_000_000), (30000, 30000))


def _huge_dimensions(data: bytes, ext: str, rng: random.Random) -> bytes:
    w, h = rng.choice(_HUGE)
    if ext == "png":
        ihdr = struct.pack(">II", w, h) + data[24:29]
        return data[:8] + _png_chunk(b"IHDR", ihdr) + data[33:]
    if ext == "jpg":
        i = data.find(b"\xff\xc0")
        if i > 0:
            hw = struct.pack(">HH", min(h, 65535), min(w, 65535))
            return data[: i + 5] + hw + data[i + 9 :]
    if ext == "gif":
        return data[:6] + struct.pack("<HH", min(w, 65535), min(h, 65535)) + data[10:]
    if ext == "webp" and b"\x9d\x01\x2a" in data and rng.random() < 0.5:
        at = data.index(b"\x9d\x01\x2a") + 3  # the VP8 key frame's 14-bit width and height
        dims = struct.pack("<HH", min(w, 16383), min(h, 16383))
        return data[:at] + dims + data[at + 4 :]
    if ext == "webp":
        vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
        dims = struct.pack("<I", (min(w, 1 << 24) - 1) & 0xFFFFFF)[:3]
        dims += struct.pack("<I", (min(h, 1 << 24) - 1) & 0xFFFFFF)[:3]
        body = data[12:]
        return b"RIFF" + struct.pack("<I", 4 + 18 + len(body)) + b"WEBP" + vp8x + dims + body
    if ext in ("avif", "heic"):
        i = data.find(b"ispe")
        if i > 0:
            return data[: i + 8] + struct.pack(">II", w, h) + data[i + 16 :]
    if ext in ("mp4", "mov"):
        i = data.find(b"tkhd")
        if i > 0:
            j = data.find(b"avc1") if b"avc1" in data else data.find(b"mp4v")
            if j > 0:
                return data[: j + 28] + struct.pack(">HH", w & 0xFFFF, h & 0xFFFF) + data[j + 32 :]
    if ext == "tif":
        return _tiff_bomb(w or 1, h or 1)
    if ext == "svg":
        return _svg(str(w * 1000), str(h * 1000))
    return _overwrite(data, ext, rng)


def _tiff_bomb(width: int, height: int) -> bytes:
    """A grey deflate TIFF declaring ``width`` x ``height`` whose one strip is all zeros."""
    strip = _zeros_deflated(min(width * height, 1 << 20))
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 8),  # deflate
        (262, 3, 1, 1),
        (273, 4, 1, 8),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, len(strip)),
    ]
    ifd_at = 8 + len(strip)
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    return b"II*\x00" + struct.pack("<I", ifd_at) + strip + ifd + b"\0\0\0\0"


def _length_lie(data: bytes, ext: str, rng: random.Random) -> bytes:
    out = bytearray(data)
    lie = rng.choice((0, 1, 7, 0xFFFFFFFF, 0x7FFFFFF0, len(data) * 4))
    if ext in ("avif", "heic", "mp4", "mov", "jxl"):
        pos = 0
        boxes = []
        while pos + 8 <= len(data):
            size = struct.unpack(">I", data[pos : pos + 4])[0]
            boxes.append(pos)
            if size < 8:
                break
            pos += size
        at = rng.choice(boxes) if boxes else 0
        out[at : at + 4] = struct.pack(">I", lie)
    elif ext == "png":
        at = 8 + 25 + rng.choice((0, 12)) if len(data) > 60 else 8
        out[at : at + 4] = struct.pack(">I", lie & 0xFFFFFFFF)
    elif ext in ("webp", "wav"):
        at = rng.choice((4, 16))
        out[at : at + 4] = struct.pack("<I", lie & 0xFFFFFFFF)
    elif ext == "jpg":
        at = data.find(b"\xff", 2 + rng.randrange(max(1, min(200, len(data) - 4))))
        if at > 0 and at + 4 <= len(out):
            out[at + 2 : at + 4] = struct.pack(">H", lie & 0xFFFF)
    elif ext == "tif":
        out[4:8] = struct.pack("<I", lie & 0xFFFFFFFF)
    else:
        return _overwrite(data, ext, rng)
    return bytes(out)


@functools.cache
def _zeros_deflated(size: int) -> bytes:
    return zlib.compress(bytes(size), 9)


def _bomb(data: bytes, ext: str, rng: random.Random) -> bytes:
    """Decompression bombs: small files that inflate to tens of MB."""
    big = _zeros_deflated(rng.choice((16, 48)) << 20)
    if ext == "png":
        kind = rng.choice((b"zTXt", b"iCCP", b"iTXt", b"IDAT"))
        if kind == b"IDAT":
            side = rng.choice((8192, 9000))
            ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
            body = _zeros_deflated((side + 1) * min(side, 2048))
            return (
                data[:8]
                + _png_chunk(b"IHDR", ihdr)
                + _png_chunk(b"IDAT", body)
                + _png_chunk(b"IEND", b"")
            )
        if kind == b"iTXt":
            chunk = _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + big)
        else:
            chunk = _png_chunk(kind, b"key\x00\x00" + big)
        return data[:33] + chunk + data[33:]
    if ext == "tif":
        side = rng.choice((4096, 8192))
        return _tiff_bomb(side, side)
    if ext == "svg":
        lol = '<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        for i in range(1, 9):
            lol += f'<!ENTITY {chr(97 + i)} "{("&" + chr(96 + i) + ";") * 10}">'
        return (lol + ']><svg xmlns="http://www.w3.org/2000/svg"><text>&i;</text></svg>').encode()
    if ext == "jpg":
        return _jpeg_with_app11(data, jumbf_box("c2pa", big))
    return data + big


def _jumbf(data: bytes, ext: str, rng: random.Random) -> bytes:
    """C2PA JUMBF stores that loop, nest deeply or lie about their lengths."""
    choice = rng.randrange(4)
    if choice == 0:  # a box claiming to be smaller than its header: a naive walk loops
        store = jumbf_box("c2pa", bmff_box(b"jumb", b"", size=rng.choice((0, 1, 4))))
    elif choice == 1:  # deep nesting
        inner = bmff_box(b"json", b"{}")
        for _ in range(rng.choice((64, 400))):
            inner = jumbf_box("c2pa.assertions", inner)
        store = jumbf_box("c2pa", inner)
    elif choice == 2:  # a superbox declaring more than there is
        store = jumbf_box("c2pa", bmff_box(b"cbor", b"\xa1\x61a\x01"), lie=0x7FFFFFFF)
    else:  # a claim that is not CBOR at all
        store = jumbf_box("c2pa", jumbf_box("c2pa.claim", bmff_box(b"cbor", bytes(64))))
    if ext == "jpg":
        return _jpeg_with_app11(data, store)
    if ext == "png":
        return data[:33] + _png_chunk(b"caBX", store) + data[33:]
    if ext in ("avif", "heic", "mp4", "mov"):
        uuid = bmff_box(
            b"uuid",
            b"\xd8\xfe\xc3\xd6\x1b\x0e\x48\x3c\x92\x97\x58\x28\x87\x7e\xc4\x81"
            + b"\0" * 4
            + b"manifest\0"
            + store,
        )
        return data + uuid
    if ext == "webp":
        body = data[12:] + b"C2PA" + struct.pack("<I", len(store)) + store
        return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    return data + store


def _box_loop(data: bytes, ext: str, rng: random.Random) -> bytes:
    """MP4/MOV/AVIF/HEIC: moov full of zero-size, tiny or self-similar boxes, deep nesting."""
    if ext not in ("mp4", "mov", "avif", "heic"):
        return _length_lie(data, ext, rng)
    choice = rng.randrange(3)
    if choice == 0:
        inner = b"".join(bmff_box(b"trak", b"", size=rng.choice((0, 1, 7))) for _ in range(4))
        extra = bmff_box(b"moov", inner)
    elif choice == 1:
        inner = bmff_box(b"free", b"")
        for _ in range(rng.choice((100, 1000))):
            inner = bmff_box(b"trak", inner)
        extra = bmff_box(b"moov", inner)
    else:
        extra = bmff_box(b"moov", bmff_box(b"trak", b"\x00\x00\x00\x08trak" * 2000))
    i = data.find(b"moov")
    at = i - 4 if i > 4 and rng.random() < 0.5 else len(data)
    return data[:at] + extra + data[at:]


MUTATIONS: dict[str, Mutation] = {
    "truncate": _truncate,
    "flip": _flip,
    "overwrite": _overwrite,
    "huge": _huge_dimensions,
    "lie": _length_lie,
    "bomb": _bomb,
    "jumbf": _jumbf,
    "loop": _box_loop,
}


def make_corpus(
    directory: Path, *, count: int = 2000, seed: int = 13, extra: dict[str, bytes] | None = None
) -> list[Path]:
    """Write ``count`` malformed files (the same ones for the same seed); returns their paths.

    ``extra`` adds further seeds (e.g. signed files, keyed ``name.ext``).
    """
    rng = random.Random(seed)
    base = {f"seed.{ext}": data for ext, data in seeds().items()}  # w.jpg -> seed.w.jpg
    base.update(extra or {})
    names = sorted(base)
    kinds = sorted(MUTATIONS)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        name = names[n % len(names)]
        kind = kinds[(n // len(names)) % len(kinds)]
        ext = name.rsplit(".", 1)[-1]
        data = MUTATIONS[kind](base[name], ext, rng) or b"\x00"
        path = directory / f"{n:05d}-{kind}-{name.replace('.', '_')}.{ext}"
        path.write_bytes(data)
        paths.append(path)
    return paths
