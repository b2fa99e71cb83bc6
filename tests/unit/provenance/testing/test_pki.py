"""The test/demo PKI produces certificates that follow the C2PA profile."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from provenance.testing.pki import C2PA_CLAIM_SIGNING, Alg, make_pki


def _certs(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)


@pytest.fixture(scope="module")
def pki():
    return make_pki("Unit PKI", seed=b"unit")


@pytest.mark.parametrize("alg", list(Alg))
def test_end_entity_profile(pki, alg):
    ee, intermediate = _certs(pki.chain_pem(alg))
    (root,) = _certs(pki.root_pem)
    assert ee.issuer == intermediate.subject and intermediate.issuer == root.subject
    bc = ee.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    assert bc.ca is False
    ku = ee.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    assert ku.digital_signature and not ku.key_cert_sign
    eku = ee.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    assert C2PA_CLAIM_SIGNING in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    ee.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    ee.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    for ca in (intermediate, root):
        assert ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
        ca.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        ca.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    ee.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    assert pki.key_pem(alg).startswith(b"-----BEGIN PRIVATE KEY-----")


def test_seed_makes_ec_keys_reproducible():
    a = make_pki("Seeded", algs=("es256", "ed25519"), seed=b"s")
    b = make_pki("Seeded", algs=("es256", "ed25519"), seed=b"s")
    assert a.key_pem("es256") == b.key_pem("es256")
    assert a.key_pem("ed25519") == b.key_pem("ed25519")
    assert make_pki("Seeded", algs=("es256",), seed=b"t").key_pem() != a.key_pem()


def test_broken_variants():
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    expired = _certs(make_pki(algs=("es256",), now=now, expired=True).chain_pem())[0]
    assert expired.not_valid_after_utc < now
    future = _certs(make_pki(algs=("es256",), now=now, not_yet_valid=True).chain_pem())[0]
    assert future.not_valid_before_utc > now
    bad = _certs(make_pki(algs=("es256",), bad_eku=True).chain_pem())[0]
    eku = bad.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    with pytest.raises(ValueError, match="both expired"):
        make_pki(expired=True, not_yet_valid=True)
    with pytest.raises(KeyError, match="no ps256"):
        make_pki(algs=("es256",)).chain_pem("ps256")


def test_issue_and_write_to(pki, tmp_path):
    now = dt.datetime.now(dt.UTC)
    cred = pki.issue("es256", not_before=now, not_after=now + dt.timedelta(seconds=5), ekus=None)
    ee = _certs(cred.cert_pem)[0]
    with pytest.raises(x509.ExtensionNotFound):
        ee.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
    written = pki.write_to(tmp_path / "pki")
    assert set(written) == {
        "root",
        "intermediate",
        "es256.chain",
        "es256.key",
        "ed25519.chain",
        "ed25519.key",
        "ps256.chain",
        "ps256.key",
    }
    assert written["root"].read_bytes() == pki.root_pem
    assert written["es256.key"].stat().st_mode & 0o777 == 0o600
