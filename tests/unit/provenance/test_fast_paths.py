"""The cheap paths of check(): trust material and SDK context built once per Checker,
header-only picture and video dimensions, structural truncation checks, signer certificates
without crJSON."""

from __future__ import annotations

import importlib
import io
import json
import shutil
import struct
import zlib

import pytest
from testkit import encode, picture, tiny_mp4

from provenance import Checker, CheckOptions, check, check_bytes
from provenance.credentials import _c2pa
from provenance.errors import InputFileError, TrustStoreError
from provenance.media.inspect import _bmff_video_size, inspect_bytes
from provenance.report import Verdict

# ``provenance.check`` the attribute is the function; the module is needed here.
check_mod = importlib.import_module("provenance.check")

_MEDIA_TYPES = {
    "jpeg_es256": "image/jpeg",
    "jpeg_ed25519": "image/jpeg",
    "jpeg_ps256": "image/jpeg",
    "png": "image/png",
    "mp4": "video/mp4",
    "publish": "image/jpeg",
    "expired_timestamped": "image/jpeg",
}


# ------------------------------------------------------------ checker built once


def test_trust_material_is_parsed_once_per_checker(signed, tmp_path, monkeypatch):
    anchor = tmp_path / "root.pem"
    shutil.copy(signed.root, anchor)
    calls = []
    real = check_mod.load_pem_bundle

    def counting(raw: bytes, *, origin: str) -> list[bytes]:
        calls.append(origin)
        return real(raw, origin=origin)

    monkeypatch.setattr(check_mod, "load_pem_bundle", counting)
    checker = Checker(CheckOptions(trust_anchors=[anchor]))
    first = checker.check(signed.jpeg_es256)
    second = checker.check(signed.jpeg_es256)
    assert first.verdict is second.verdict is Verdict.TRUSTED
    assert len(calls) == 1
    assert first.tool.trust_sources == second.tool.trust_sources

    # A new checker reads the anchors again and uses what they hold now.
    anchor.write_text(anchor.read_text() + "\n")
    third = Checker(CheckOptions(trust_anchors=[anchor])).check(signed.jpeg_es256)
    assert len(calls) == 2
    assert third.tool.trust_sources[0].sha256 != first.tool.trust_sources[0].sha256


def test_a_damaged_or_removed_anchor_fails_the_next_checker(signed, tmp_path):
    anchor = tmp_path / "root.pem"
    shutil.copy(signed.root, anchor)
    assert check(signed.jpeg_es256, trust_anchors=[anchor]).verdict is Verdict.TRUSTED
    anchor.write_text("not a certificate\n")
    with pytest.raises(TrustStoreError):
        check(signed.jpeg_es256, trust_anchors=[anchor])
    anchor.unlink()
    with pytest.raises(TrustStoreError):
        Checker(CheckOptions(trust_anchors=[anchor]))


def test_stored_lists_changes_are_seen_by_new_checkers(signed, tmp_path):
    from provenance.credentials import trust

    source = tmp_path / "src" / "c2pa-conformance-public"
    source.mkdir(parents=True)
    pem = signed.root.read_bytes()
    (source / "C2PA-TRUST-LIST.pem").write_bytes(pem)
    (source / "C2PA-TSA-TRUST-LIST.pem").write_bytes(pem)
    data_dir = tmp_path / "data"
    assert check(signed.jpeg_es256, data_dir=data_dir).verdict is Verdict.VALID_UNTRUSTED
    trust.update(str(tmp_path / "src"), data_dir=data_dir)
    assert check(signed.jpeg_es256, data_dir=data_dir).verdict is Verdict.TRUSTED
    (data_dir / "trust.json").unlink()
    assert check(signed.jpeg_es256, data_dir=data_dir).verdict is Verdict.VALID_UNTRUSTED


def test_reader_context_is_built_once_per_session(signed):
    checker = Checker(CheckOptions(trust_anchors=[signed.root]))
    session = checker._trust.sdk
    first = session.context(allow_network=False)
    assert session.context(allow_network=False) is first
    online = session.context(allow_network=True)
    assert online is not first
    first.close()  # a closed context is replaced, never handed out
    third = session.context(allow_network=False)
    assert third is not first and third.is_valid
    assert checker.check(signed.jpeg_es256).verdict is Verdict.TRUSTED
    other = Checker(CheckOptions(trust_anchors=[signed.root]))._trust.sdk
    assert other.context(allow_network=False) is not third  # nothing shared between checkers


# ------------------------------------------------------------------ signer details


@pytest.mark.parametrize("attr", sorted(_MEDIA_TYPES))
def test_certificates_from_cose_match_crjson(signed, attr):
    import c2pa

    data = getattr(signed, attr).read_bytes()
    with c2pa.Reader(_MEDIA_TYPES[attr], io.BytesIO(data)) as reader:
        store = json.loads(reader.json())
        expected = _c2pa._certificates(reader.crjson())
        buffer = io.BytesIO()
        reader.resource_to_stream(f"self#jumbf=/c2pa/{store['active_manifest']}", buffer)
    got = _c2pa._certificates_from_store(buffer.getvalue(), store)
    assert got.keys() == expected.keys() and got
    for label, cert in got.items():
        ref = expected[label]
        assert cert.subject == ref.subject
        assert cert.issuer == ref.issuer
        assert cert.serial_number == ref.serial_number
        assert (cert.not_before, cert.not_after) == (ref.not_before, ref.not_after)
        assert cert.timestamp == ref.timestamp
        assert cert.timestamp_authority == ref.timestamp_authority
    if attr == "expired_timestamped":
        assert any(c.timestamp and c.timestamp_authority for c in got.values())


def test_timestamp_response_is_unwrapped_to_its_token():
    token = bytes.fromhex("3003020105")  # any SEQUENCE
    response = bytes.fromhex("300a") + bytes.fromhex("3003020100") + token
    assert _c2pa._timestamp_token(response) == token
    assert _c2pa._timestamp_token(token) == token
    for bad in (b"", b"\x04\x01\x00", b"\x30\x85\x00"):
        with pytest.raises(ValueError):
            _c2pa._timestamp_token(bad)


def test_certificates_from_a_damaged_store_raise_value_error():
    for junk in (b"", b"\x00\x00\x00\x10jumb" + bytes(8), b"\xff" * 40):
        with pytest.raises(ValueError):
            _c2pa._certificates_from_store(junk, {"manifests": {"urn:x": {}}})


def test_cbor_decoder():
    # {1: -7, "x": [h'01', "a"], 33: [h'3001']} and an indefinite array
    item = bytes.fromhex("a3 01 26 61 78 82 41 01 61 61 18 21 81 42 30 01".replace(" ", ""))
    value, end = _c2pa._cbor(item)
    assert value == {1: -7, "x": [b"\x01", "a"], 33: [b"\x30\x01"]} and end == len(item)
    assert _c2pa._cbor(bytes.fromhex("9f0102ff"))[0] == [1, 2]
    assert _c2pa._cbor(bytes.fromhex("d28201f6"))[0] == [1, None]  # tag 18 dropped
    for bad in (b"", b"\x5a\x00\x00\x00\xff", b"\x81" * 40, b"\x1c"):
        with pytest.raises(ValueError):
            _c2pa._cbor(bad)


# --------------------------------------------------------------- dimensions, truncation


def _mpo() -> bytes:
    second = picture(96, 64, seed=2)
    return encode(picture(96, 64), "MPO", save_all=True, append_images=[second])


def _png_without_iend() -> bytes:
    data = encode(picture(), "PNG")
    return data[: data.rindex(b"IEND") - 4]


def _png_with_bad_crc() -> bytes:
    data = bytearray(encode(picture(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0x55
    return bytes(data)


@pytest.mark.parametrize(
    "make",
    [
        lambda: encode(picture(), "JPEG")[:-2],  # no EOI
        lambda: encode(picture(), "JPEG")[:400],  # cut in the header or first scan
        lambda: encode(picture(), "JPEG", progressive=True)[:-300],
        _png_without_iend,
        _png_with_bad_crc,
        lambda: encode(picture(), "WEBP")[:-40],
        lambda: encode(picture(), "GIF")[:-20],
        lambda: encode(picture(), "AVIF")[:-50],
        lambda: _mpo()[:600],
    ],
    ids=[
        "jpeg-no-eoi",
        "jpeg-cut",
        "jpeg-progressive-cut",
        "png-no-iend",
        "png-crc",
        "webp",
        "gif",
        "avif",
        "mpo",
    ],
)
def test_damaged_pictures_are_corrupt(make):
    with pytest.raises(InputFileError) as err:
        inspect_bytes(make(), name="x")
    assert err.value.code == "corrupt"
    report = check_bytes(make(), name="x")
    assert report.verdict is Verdict.ERROR and report.error is not None
    assert report.error.code == "corrupt"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "AVIF", "MPO"])
def test_complete_pictures_give_their_size(fmt):
    data = _mpo() if fmt == "MPO" else encode(picture(96, 64), fmt)
    info = inspect_bytes(data, name="x")
    assert (info.width, info.height) == (96, 64)


def test_jpeg_with_trailing_bytes_is_complete():
    info = inspect_bytes(encode(picture(96, 64), "JPEG") + b"trailer", name="x")
    assert (info.width, info.height) == (96, 64)


def test_video_size_from_the_mp4_structure_matches_pyav():
    import av

    data = tiny_mp4(width=80, height=48)
    assert _bmff_video_size(data) == (80, 48)
    with av.open(io.BytesIO(data)) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.width, ctx.height) == (80, 48)
    assert inspect_bytes(data, name="v.mp4").width == 80
    assert _bmff_video_size(b"\x00\x00\x00\x08moov") is None
    assert _bmff_video_size(struct.pack(">I", 400) + b"moov" + bytes(20)) is None


def test_zlib_is_only_used_for_crcs():
    # the PNG check never inflates IDAT: a PNG with a valid CRC over broken zlib data still
    # has a readable header and structure (the hard binding or the SDK judges content)
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"xx") + chunk(b"IEND", b"")
    assert inspect_bytes(data, name="x").width == 4
