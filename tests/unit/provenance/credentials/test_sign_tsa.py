"""RFC 3161 timestamps: provenance.testing.tsa on loopback; signatures outliving the certificate."""

from __future__ import annotations

import datetime as dt
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from asn1crypto import core, tsp
from testkit import encode, picture

from provenance import check
from provenance.credentials.sign import SignerSpec, sign_file
from provenance.credentials.timestamp import NO_TSA_LIST
from provenance.report import Verdict
from provenance.testing.pki import Pki, make_pki
from provenance.testing.tsa import TimeStampAuthority, TsaError, serve

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki("TSA Test", algs=("es256",), seed=b"tsa-tests")


@pytest.fixture(scope="module")
def authority(pki: Pki) -> TimeStampAuthority:
    return TimeStampAuthority.from_pki(pki)


def _request(digest: bytes, *, alg: str = "sha256", nonce: int | None = 42) -> bytes:
    req = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": alg}, "hashed_message": digest},
        "cert_req": True,
    }
    if nonce is not None:
        req["nonce"] = nonce
    return tsp.TimeStampReq(req).dump()


def test_token_carries_the_imprint_nonce_and_time(authority: TimeStampAuthority) -> None:
    fixed = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    clocked = TimeStampAuthority(
        authority.cert_der, authority.chain_der, authority._key, clock=lambda: fixed
    )
    resp = tsp.TimeStampResp.load(clocked.respond(_request(b"\x11" * 32)))
    assert resp["status"]["status"].native == "granted"
    signed = resp["time_stamp_token"]["content"]
    info = signed["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == b"\x11" * 32
    assert info["nonce"].native == 42
    assert info["gen_time"].native == fixed
    assert len(signed["certificates"]) == 2  # TSA + intermediate, as asked (certReq)


@pytest.mark.parametrize(
    ("body", "fail_info"),
    [
        (b"not DER at all", "bad_data_format"),
        (_request(b"\x00" * 20, alg="sha1"), "bad_alg"),
        (_request(b"\x00" * 31), "bad_data_format"),
    ],
)
def test_bad_requests_are_rejected_not_raised(
    authority: TimeStampAuthority, body: bytes, fail_info: str
) -> None:
    outer = core.Sequence.load(authority.respond(body))  # status only, no token
    status = tsp.PKIStatusInfo.load(outer[0].dump())
    assert status["status"].native == "rejection"
    assert fail_info in status["fail_info"].native


def test_key_must_match_certificate(pki: Pki) -> None:
    other = make_pki("Other", algs=("es256",), seed=b"other-tsa")
    with pytest.raises(TsaError):
        TimeStampAuthority.from_pem(pki.chain_pem(), other.key_pem())


def test_served_over_http(authority: TimeStampAuthority) -> None:
    with serve(authority) as url:
        req = urllib.request.Request(
            url,
            data=_request(b"\x22" * 32),
            headers={"Content-Type": "application/timestamp-query"},
        )
        with urllib.request.urlopen(req, timeout=10) as reply:
            assert reply.headers["Content-Type"] == "application/timestamp-reply"
            body = reply.read()
    assert tsp.TimeStampResp.load(body)["status"]["status"].native == "granted"


def test_timestamp_keeps_a_signature_valid_after_expiry(
    pki: Pki, authority: TimeStampAuthority, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    short = pki.issue(
        "es256",
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(seconds=2),
        label="short-lived",
    )
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root_pem)
    src = tmp_path / "photo.jpg"
    src.write_bytes(encode(picture(), "JPEG", quality=90))
    with serve(authority) as url:
        stamped = sign_file(
            src,
            tmp_path / "stamped.jpg",
            signer=SignerSpec.from_pem(short.chain_pem, short.key_pem, tsa_url=url),
            source_type="digitalCapture",
        )
    bare = sign_file(
        src,
        tmp_path / "bare.jpg",
        signer=SignerSpec.from_pem(short.chain_pem, short.key_pem),
        source_type="digitalCapture",
    )
    assert stamped.timestamped and stamped.timestamp is not None
    assert not bare.timestamped
    assert any("expires" in w for w in bare.warnings)  # no TSA, certificate about to expire
    assert not any("expires" in w for w in stamped.warnings)
    before = check(bare.path, trust_anchors=[root])
    assert before.verdict is Verdict.TRUSTED
    remaining = (short.not_after - dt.datetime.now(dt.UTC)).total_seconds()
    time.sleep(max(0.0, remaining) + 1.1)
    # The TSA is trusted only through anchors given for TSAs, never through signer anchors.
    after_stamped = check(stamped.path, trust_anchors=[root], tsa_anchors=[root])
    assert after_stamped.verdict is Verdict.TRUSTED, after_stamped.summary
    assert after_stamped.chain.signing_time_source == "timestamp"
    assert after_stamped.chain.trusted is True  # the SDK said untrusted: judged at today's date
    assert after_stamped.signature.certificate_expiry == "expired_since_signing"
    untrusted_tsa = check(stamped.path, trust_anchors=[root])
    assert untrusted_tsa.verdict is Verdict.INVALID
    assert untrusted_tsa.signature.timestamp.reason == NO_TSA_LIST
    assert untrusted_tsa.chain.trusted is True  # its anchor was given: the panel says so
    after_bare = check(bare.path, trust_anchors=[root])
    assert after_bare.verdict is Verdict.INVALID
    assert "signingCredential.expired" in {f.code for f in after_bare.failures}
    assert after_bare.signature.certificate_expiry == "expired_time_unknown"


def test_unreachable_tsa_is_named(pki: Pki, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    src = tmp_path / "photo.jpg"
    src.write_bytes(encode(picture(), "JPEG", quality=90))
    signer = SignerSpec.from_pem(pki.chain_pem(), pki.key_pem(), tsa_url=url)
    with pytest.raises(Exception) as info:
        sign_file(src, tmp_path / "out.jpg", signer=signer, source_type="digitalCapture")
    assert info.value.code == "tsa_failed"  # type: ignore[attr-defined]
    assert url in info.value.message  # type: ignore[attr-defined]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_command_line_tsa(pki: Pki, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from cryptography.x509.oid import ExtendedKeyUsageOID

    cred = pki.issue("es256", ekus=[ExtendedKeyUsageOID.TIME_STAMPING], label="cli-tsa")
    (tmp_path / "tsa.pem").write_bytes(cred.chain_pem)
    (tmp_path / "tsa.key").write_bytes(cred.key_pem)
    with subprocess.Popen(
        [sys.executable, "-m", "provenance.testing.tsa", "--cert", str(tmp_path / "tsa.pem"),
         "--key", str(tmp_path / "tsa.key")],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            req = urllib.request.Request(url, data=_request(b"\x33" * 32))
            with urllib.request.urlopen(req, timeout=10) as reply:
                status = tsp.TimeStampResp.load(reply.read())["status"]["status"].native
            assert status == "granted"
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
    bad = subprocess.run(
        [sys.executable, "-m", "provenance.testing.tsa", "--cert", str(tmp_path / "tsa.pem"),
         "--key", str(tmp_path / "missing.key")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "missing.key" in bad.stderr
