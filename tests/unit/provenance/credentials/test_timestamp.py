"""Our own RFC 3161 check: imprint over the signature, TSA chain at genTime, signer validity."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from testkit import encode, picture

from provenance.credentials import _c2pa
from provenance.credentials.sign import SignerSpec, sign_file
from provenance.credentials.timestamp import (
    MISMATCH,
    NO_TSA_LIST,
    UNREADABLE,
    UNTRUSTED_TSA,
    check_timestamp,
    countersign_data,
    signer_valid_at,
)
from provenance.credentials.trust import eku_config
from provenance.testing.pki import Pki, make_pki
from provenance.testing.tsa import TimeStampAuthority, serve

pytestmark = pytest.mark.network

GEN_TIME = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki("Stamp Test", algs=("es256",), seed=b"timestamp-tests")


def _parts(path: Path) -> _c2pa.SignatureParts:
    store = _c2pa.read_store(
        path.read_bytes(), media_type="image/jpeg", trust=_c2pa.SdkTrust("", eku_config())
    )
    assert isinstance(store, _c2pa.SdkStore)
    return store.signatures[str(store.store["active_manifest"])]


@pytest.fixture(scope="module")
def stamped(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> _c2pa.SignatureParts:
    now = dt.datetime.now(dt.UTC)
    authority = TimeStampAuthority.from_pki(pki, clock=lambda: now - dt.timedelta(minutes=1))
    tmp = tmp_path_factory.mktemp("stamped")
    src = tmp / "photo.jpg"
    src.write_bytes(encode(picture(), "JPEG", quality=90))
    with serve(authority) as url:
        signer = SignerSpec.from_pem(pki.chain_pem(), pki.key_pem(), tsa_url=url)
        sign_file(src, tmp / "stamped.jpg", signer=signer, source_type="digitalCapture")
    return _parts(tmp / "stamped.jpg")


def _root(pki: Pki) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.root_pem)


def test_trusted_when_the_tsa_chains_to_a_tsa_anchor(
    stamped: _c2pa.SignatureParts, pki: Pki
) -> None:
    result = check_timestamp(stamped, tsa_anchors=[_root(pki)])
    assert result is not None
    assert result.trusted and result.reason is None
    assert result.tsa == "Stamp Test Time Stamping Authority"
    assert result.time is not None and result.time.endswith("Z")
    assert [v for v, _ in stamped.tokens] == [2]  # sigTst2: the token alone
    assert result.to_dict() == {
        "time": result.time,
        "tsa": result.tsa,
        "trusted": True,
        "reason": None,
    }


def test_untrusted_tsa_and_no_tsa_list_are_told_apart(stamped: _c2pa.SignatureParts) -> None:
    other = make_pki("Elsewhere", algs=("es256",), seed=b"elsewhere")
    foreign = check_timestamp(stamped, tsa_anchors=[_root(other)])
    assert foreign is not None and not foreign.trusted and foreign.reason == UNTRUSTED_TSA
    none = check_timestamp(stamped, tsa_anchors=[])
    assert none is not None and not none.trusted and none.reason == NO_TSA_LIST
    assert none.time == foreign.time  # the stated time is still reported


def test_a_token_moved_onto_another_signature_does_not_match(
    stamped: _c2pa.SignatureParts, pki: Pki
) -> None:
    moved = dataclasses.replace(stamped, signature=bytes(64))
    result = check_timestamp(moved, tsa_anchors=[_root(pki)])
    assert result is not None and not result.trusted and result.reason == MISMATCH


def test_unreadable_and_absent_tokens(stamped: _c2pa.SignatureParts, pki: Pki) -> None:
    garbage = dataclasses.replace(stamped, tokens=((2, b"\x30\x03\x02\x01\x05"),))
    result = check_timestamp(garbage, tsa_anchors=[_root(pki)])
    assert result is not None and result.reason == UNREADABLE and result.time is None
    assert check_timestamp(dataclasses.replace(stamped, tokens=()), tsa_anchors=[]) is None


def test_countersign_structure(stamped: _c2pa.SignatureParts) -> None:
    v2 = countersign_data(stamped, 2)
    assert v2 is not None and v2.startswith(b"\x84\x70CounterSignature")
    assert countersign_data(dataclasses.replace(stamped, claim=None), 1) is None
    v1 = countersign_data(dataclasses.replace(stamped, claim=b"claim"), 1)
    assert v1 is not None and v1.endswith(b"\x45claim")


def test_signer_valid_at(pki: Pki) -> None:
    cred = pki.issue(
        "es256",
        not_before=GEN_TIME - dt.timedelta(days=1),
        not_after=GEN_TIME + dt.timedelta(days=1),
        label="validity",
    )
    der = x509.load_pem_x509_certificate(cred.cert_pem).public_bytes(Encoding.DER)
    assert signer_valid_at(der, "2026-03-01T12:00:00Z") is True
    assert signer_valid_at(der, "2026-03-05T12:00:00Z") is False
    assert signer_valid_at(der, "not a time") is None


def test_shared_1x_timestamps(shared_dir: Path) -> None:
    """C2PA 1.x stores the whole TimeStampResp; real tokens carry unsorted certificate SETs.

    The 2022 DigiCert TSA of the public test files chains to DigiCert Trusted Root G4,
    which is not on the C2PA TSA Trust List; the broken ingredient of CIE-sig-CA has a
    timestamp that no longer matches its (altered) signature.
    """
    files = shared_dir / "c2pa" / "fixtures" / "public-testfiles"
    tsa_list = x509.load_pem_x509_certificates(
        (
            shared_dir / "c2pa" / "trust" / "c2pa-conformance-public" / "C2PA-TSA-TRUST-LIST.pem"
        ).read_bytes()
    )
    good = check_timestamp(_parts(files / "adobe-20220124-CA.jpg"), tsa_anchors=tsa_list)
    assert good is not None
    assert (good.time, good.tsa) == ("2023-01-24T14:48:56Z", "DigiCert Timestamp 2022 - 2")
    assert not good.trusted and good.reason == UNTRUSTED_TSA
    store = _c2pa.read_store(
        (files / "adobe-20220124-CIE-sig-CA.jpg").read_bytes(),
        media_type="image/jpeg",
        trust=_c2pa.SdkTrust("", eku_config()),
    )
    assert isinstance(store, _c2pa.SdkStore)
    reasons = {
        label: getattr(check_timestamp(parts, tsa_anchors=tsa_list), "reason", None)
        for label, parts in store.signatures.items()
    }
    active = str(store.store["active_manifest"])
    assert reasons[active] == UNTRUSTED_TSA
    assert set(reasons.values()) == {UNTRUSTED_TSA, MISMATCH}


def test_every_manifest_of_the_chain_gets_its_timestamp_checked(shared_dir: Path) -> None:
    """The report verifies ingredient manifests' timestamps too: CIE-sig-CA's ingredient,
    whose signature was altered, has a timestamp that no longer matches it."""
    from provenance import check
    from provenance.report import ChainNode

    report = check(shared_dir / "c2pa/fixtures/public-testfiles/adobe-20220124-CIE-sig-CA.jpg")
    assert report.chain is not None
    (ingredient,) = report.chain.ingredients

    def reason(node: ChainNode) -> str | None:
        return node.timestamp.reason if node.timestamp is not None else None

    assert reason(report.chain) == NO_TSA_LIST  # the test session uses no trust list
    assert reason(ingredient) == MISMATCH
    assert report.to_dict()["chain"]["ingredients"][0]["timestamp"]["reason"] == MISMATCH


def test_an_intermediate_ca_can_be_the_tsa_anchor(stamped: _c2pa.SignatureParts, pki: Pki) -> None:
    """OpenSSL (under rfc3161-client) accepts only self-signed roots; an intermediate given
    as the TSA anchor is checked here (chain, genTime, EKU, CMS signature)."""
    intermediate = x509.load_pem_x509_certificate(pki.intermediate_pem)
    result = check_timestamp(stamped, tsa_anchors=[intermediate])
    assert result is not None and result.trusted, result
    other = make_pki("Elsewhere", algs=("es256",), seed=b"elsewhere")
    foreign = x509.load_pem_x509_certificate(other.intermediate_pem)
    refused = check_timestamp(stamped, tsa_anchors=[foreign])
    assert refused is not None and refused.reason == UNTRUSTED_TSA


def test_the_verify_site_tsa_anchors_excuse_an_expired_adobe_certificate(
    shared_dir: Path, tmp_path: Path
) -> None:
    """With the interim list's time-stamping CAs given as TSA anchors (what the Verify site
    trusts), the 2022 Adobe sample's DigiCert timestamp is trusted: its certificate expired
    since it was signed, so it is TRUSTED; without them it is INVALID."""
    from provenance import check
    from provenance.report import Expiry, Verdict

    path = shared_dir / "c2pa/fixtures/c2pa-rs/verify.jpeg"
    interim = shared_dir / "c2pa/trust/cai-verify-site/anchors.pem"
    fresh = tmp_path / "never-updated"  # the shipped snapshots
    trusted = check(path, data_dir=fresh, tsa_anchors=[interim])
    assert trusted.verdict is Verdict.TRUSTED, trusted.summary
    assert trusted.signature is not None
    assert trusted.signature.certificate_expiry is Expiry.EXPIRED_SINCE_SIGNING
    assert any("while it was valid" in s for s in trusted.summary)
    assert any("trusted through CAI interim trust anchors" in s for s in trusted.summary)
    strict = check(path, data_dir=fresh)
    assert strict.verdict is Verdict.INVALID
