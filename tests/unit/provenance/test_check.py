"""check(): verdicts on signed, tampered and expired files, and ERROR on bad input."""

from __future__ import annotations

import datetime as dt
import os
import struct
import zlib
from pathlib import Path

import pytest

from provenance import check, check_bytes
from provenance.credentials.chain import iter_nodes
from provenance.report import Verdict

FIXED = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("attr", "media_type"),
    [
        ("jpeg_es256", "image/jpeg"),
        ("jpeg_ed25519", "image/jpeg"),
        ("jpeg_ps256", "image/jpeg"),
        ("png", "image/png"),
        ("webp", "image/webp"),
        ("mp4", "video/mp4"),
    ],
)
def test_signed_file_is_trusted_with_its_root(signed, attr, media_type):
    path = getattr(signed, attr)
    report = check(path, trust_anchors=[signed.root], analyzed_at=FIXED)
    assert report.verdict is Verdict.TRUSTED, report.summary
    assert report.failures == ()
    assert report.error is None
    assert report.subject.media_type == media_type
    assert report.subject.width and report.subject.height
    assert report.subject.size == path.stat().st_size
    assert report.tool.analyzed_at == "2026-05-01T12:00:00Z"
    assert report.tool.c2pa_sdk
    assert report.chain is not None and report.chain.issuer is not None
    assert report.chain.issuer.organization == "Jinjja Test"
    assert report.chain.issuer.issuing_ca.startswith("Jinjja Test Intermediate CA")
    assert report.chain.claim_generator == "jinjja-tests"
    assert report.chain.claim_generator_version == "0.1.0"
    assert [a.label for a in report.chain.actions] == ["Created"]


def test_without_anchor_the_signer_is_untrusted(signed):
    report = check(signed.jpeg_es256)
    assert report.verdict is Verdict.VALID_UNTRUSTED
    assert [f.code for f in report.failures] == ["signingCredential.untrusted"]
    assert "not on any trust list" in report.failures[0].message
    assert "identity is unconfirmed" in report.summary[0]


def test_trust_sources_are_listed(signed):
    report = check(signed.jpeg_es256, trust_anchors=[signed.root])
    names = [t.name for t in report.tool.trust_sources]
    assert names == ["--trust-anchors root.pem", "EKU configuration (built in)"]
    anchor = report.tool.trust_sources[0]
    assert anchor.certificates == 1
    assert anchor.location == str(signed.root.resolve())


def test_three_step_chain(signed):
    report = check(signed.publish, trust_anchors=[signed.root])
    assert report.verdict is Verdict.TRUSTED
    root = report.chain
    assert root is not None
    assert root.title == "chain3_published.jpg"
    assert root.format == "image/jpeg"
    assert [a.label for a in root.actions] == ["Opened", "Imported", "Published"]
    assert root.issuer.common_name == "Jinjja Test Signer (ed25519)"
    parent, logo = root.ingredients
    assert (parent.relationship, logo.relationship) == ("parentOf", "componentOf")
    assert logo.label is None and logo.title == "logo.png" and logo.issuer is None
    assert parent.claim_generator == "Jinjja Editor"
    assert parent.issuer.common_name == "Jinjja Test Signer (ps256)"
    assert [a.action for a in parent.actions] == ["c2pa.opened", "c2pa.cropped"]
    assert parent.actions[1].description == "crop to subject"
    (capture,) = parent.ingredients
    assert capture.relationship == "parentOf"
    assert capture.signing_time == "2026-03-02T08:11:09Z"
    assert capture.signing_time_source == "claimed"
    assert capture.actions[0].digital_source_type.endswith("/digitalCapture")
    assert all(n.reliable for n in iter_nodes(root))
    assert len(list(iter_nodes(root))) == 4


def test_pixels_changed_after_signing_is_incomplete(signed):
    report = check(signed.tampered_pixels, trust_anchors=[signed.root])
    assert report.verdict is Verdict.INCOMPLETE
    assert [f.code for f in report.failures] == ["assertion.dataHash.mismatch"]
    assert report.chain is not None and not report.chain.reliable
    assert any("assertion.dataHash.mismatch" in line for line in report.summary)


def test_manifest_byte_flipped_is_invalid(signed):
    report = check(signed.tampered_manifest, trust_anchors=[signed.root])
    assert report.verdict is Verdict.INVALID
    codes = {f.code for f in report.failures}
    assert codes & {"claimSignature.mismatch", "assertion.hashedURI.mismatch", "claim.malformed"}
    assert "Do not rely on the claims" in report.summary[0]


def test_expired_certificate_without_timestamp_is_invalid(signed):
    report = check(signed.expired, trust_anchors=[signed.root])
    assert report.verdict is Verdict.INVALID
    assert "signingCredential.expired" in {f.code for f in report.failures}


def test_expired_certificate_with_trusted_timestamp_stays_valid(signed):
    report = check(
        signed.expired_timestamped, trust_anchors=[signed.root], tsa_anchors=[signed.root]
    )
    assert report.verdict is Verdict.TRUSTED, report.summary
    assert report.chain.signing_time_source == "timestamp"
    assert report.chain.signing_time is not None
    assert any("proven by a timestamp" in line for line in report.summary)
    assert report.signature.certificate_expiry == "expired_since_signing"
    # A signer anchor does not trust a time-stamping authority: the timestamp proves
    # nothing and the expired certificate makes the credentials invalid.
    signer_only = check(signed.expired_timestamped, trust_anchors=[signed.root])
    assert signer_only.verdict is Verdict.INVALID
    assert signer_only.chain.trusted is True  # its anchor was given
    assert any("no trust list for time-stamping authorities" in s for s in signer_only.summary)
    untrusted = check(signed.expired_timestamped)
    assert untrusted.verdict is Verdict.INVALID
    assert "signingCredential.expired" in {f.code for f in untrusted.failures}
    assert any("cannot tell whether it was valid then" in s for s in untrusted.summary)


def test_ai_declared_only_in_the_ingredient(signed):
    report = check(signed.ai_ingredient, trust_anchors=[signed.root])
    assert report.verdict is Verdict.TRUSTED
    root = report.chain
    assert root is not None
    assert all(a.digital_source_type is None for a in root.actions)
    (generated,) = root.ingredients
    assert generated.claim_generator == "ExampleDiffusion"
    (created,) = generated.actions
    assert created.digital_source_type.endswith("/trainedAlgorithmicMedia")
    assert created.software_agent == "ExampleDiffusion 2.1"
    assert report.ai.label.value == "AI_GENERATED"


def test_detached_manifest(signed):
    alone = check(signed.detached_asset, trust_anchors=[signed.root])
    assert alone.verdict is Verdict.NO_CREDENTIALS
    report = check(
        signed.detached_asset, manifest=signed.detached_manifest, trust_anchors=[signed.root]
    )
    assert report.verdict is Verdict.TRUSTED
    assert any("separate manifest file" in line for line in report.summary)


def test_detached_manifest_missing_is_an_error(signed, tmp_path):
    report = check(signed.detached_asset, manifest=tmp_path / "nope.c2pa")
    assert report.verdict is Verdict.ERROR
    assert report.error.code == "not_found"
    assert report.subject.sha256 is not None


def test_remote_manifest_is_not_fetched(signed):
    report = check(signed.remote_asset, trust_anchors=[signed.root])
    assert report.verdict is Verdict.NO_CREDENTIALS
    assert report.remote_manifest_url == "https://manifests.example.org/abc.c2pa"
    assert report.error.code == "remote_manifest_not_fetched"
    assert "not fetched" in report.summary[0]
    assert report.to_dict()["remote_manifest_url"] == report.remote_manifest_url


def test_unsigned_file_has_no_credentials(signed):
    report = check(signed.unsigned_jpeg)
    assert report.verdict is Verdict.NO_CREDENTIALS
    assert report.chain is None and report.error is None
    assert "says nothing about whether the content is authentic" in report.summary[0]


def test_check_bytes_matches_check(signed):
    data = signed.jpeg_es256.read_bytes()
    a = check_bytes(data, name="upload.jpg", trust_anchors=[signed.root], analyzed_at=FIXED)
    b = check(signed.jpeg_es256, trust_anchors=[signed.root], analyzed_at=FIXED)
    assert a.verdict is b.verdict is Verdict.TRUSTED
    assert a.subject.path == "upload.jpg"
    assert a.subject.sha256 == b.subject.sha256
    assert check_bytes(b"", name="empty").error.code == "empty_file"


def test_wrong_extension_is_sniffed(signed, tmp_path):
    renamed = tmp_path / "photo.png"
    renamed.write_bytes(signed.jpeg_es256.read_bytes())
    report = check(renamed, trust_anchors=[signed.root])
    assert report.subject.media_type == "image/jpeg"
    assert report.verdict is Verdict.TRUSTED


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def _png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(64)))
        + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("missing", "not_found"),
        ("directory", "is_directory"),
        ("empty", "empty_file"),
        ("truncated_jpeg", "corrupt"),
        ("text_named_jpg", "unsupported_format"),
        ("bomb", "too_large"),
        ("fragment", "unsupported_format"),
        ("garbage_png", "corrupt"),
    ],
)
def test_bad_input_gives_error_report(signed, tmp_path, case, code):
    path = tmp_path / "input.jpg"
    if case == "directory":
        path = tmp_path
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "truncated_jpeg":
        path.write_bytes(signed.unsigned_jpeg.read_bytes()[:600])
    elif case == "text_named_jpg":
        path.write_text("this is a text file, not a picture\n")
    elif case == "bomb":
        path = tmp_path / "bomb.png"
        path.write_bytes(_png_bomb(100_000, 100_000))
    elif case == "fragment":
        path = tmp_path / "seg.m4s"
        path.write_bytes(b"\x00\x00\x00\x18stypmsdh\x00\x00\x00\x00msdhmsix" + bytes(32))
    elif case == "garbage_png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    report = check(path, analyzed_at=FIXED)
    assert report.verdict is Verdict.ERROR
    assert report.error is not None and report.error.code == code, report.error
    assert report.error.message and report.summary == (report.error.message,)
    assert report.subject.path == os.path.abspath(path)
    if case not in ("missing", "directory"):
        assert report.subject.size == path.stat().st_size
        assert report.subject.sha256 is not None


def test_permission_denied_gives_error_report(tmp_path, monkeypatch):
    path = tmp_path / "locked.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0data")
    real_open = Path.open

    def deny(self: Path, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    report = check(path)
    assert report.verdict is Verdict.ERROR
    assert report.error.code == "permission_denied"


def test_bad_trust_anchor_file_raises(signed, tmp_path):
    from provenance.errors import ProvenanceError, TrustStoreError

    bad = tmp_path / "anchors.pem"
    bad.write_text("not a certificate")
    with pytest.raises(TrustStoreError) as info:
        check(signed.jpeg_es256, trust_anchors=[bad])
    assert isinstance(info.value, ProvenanceError)
    assert "no PEM certificate" in info.value.diagnostics()
    with pytest.raises(TrustStoreError, match="Cannot read trust anchors"):
        check(signed.jpeg_es256, trust_anchors=[tmp_path / "missing.pem"])


def test_analyzed_at_naive_is_utc_and_default_is_now(signed):
    naive = check(signed.unsigned_jpeg, analyzed_at=dt.datetime(2026, 1, 2, 3, 4, 5))
    assert naive.tool.analyzed_at == "2026-01-02T03:04:05Z"
    seoul = dt.timezone(dt.timedelta(hours=9))
    shifted = check(signed.unsigned_jpeg, analyzed_at=dt.datetime(2026, 1, 2, 12, tzinfo=seoul))
    assert shifted.tool.analyzed_at == "2026-01-02T03:00:00Z"
    now = check(signed.unsigned_jpeg).tool.analyzed_at
    assert now.endswith("Z") and now[:4].isdigit()


def test_single_path_is_accepted_for_trust_anchors(signed):
    report = check(signed.jpeg_es256, trust_anchors=str(signed.root))
    assert report.verdict is Verdict.TRUSTED


def test_detached_store_checked_alone_is_explained(signed):
    report = check(signed.detached_manifest, trust_anchors=[signed.root])
    assert report.subject.media_type == "application/c2pa"
    assert report.verdict is Verdict.INCOMPLETE
    assert any("detached manifest store checked on its own" in s for s in report.summary)
