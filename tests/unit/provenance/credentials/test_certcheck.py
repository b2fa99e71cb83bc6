"""Certificate pre-flight: every problem c2pa-rs rejects is named, and the SDK agrees."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from provenance.credentials.certcheck import (
    CertificateError,
    Severity,
    alg_for_key,
    check_certificate,
    load_certificates,
    load_private_key,
)
from provenance.testing.pki import make_pki

C2PA = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ku(**on: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
        ),
        False,
    )
    flags.update(on)
    return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


def _ca(cn: str, key: Any, issuer: tuple[x509.Certificate, Any] | None) -> x509.Certificate:
    issuer_name = issuer[0].subject if issuer else _name(cn)
    issuer_key = issuer[1] if issuer else key
    return (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ku(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


class Pki:
    """A root and an intermediate (P-256) that issue end-entity certificates on demand."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _ca("Check Root CA", self.root_key, None)
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = _ca("Check Intermediate CA", self.int_key, (self.root, self.root_key))

    def ee(
        self,
        *,
        key: Any = None,
        ekus: list[ObjectIdentifier] | None = (C2PA, ExtendedKeyUsageOID.EMAIL_PROTECTION),  # type: ignore[assignment]
        ku: x509.KeyUsage | None = None,
        aki: bool = True,
        ca: bool = False,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        self_signed: bool = False,
        critical_oid: str | None = None,
    ) -> tuple[bytes, bytes, Any]:
        """Return (chain PEM [EE, intermediate], key PEM, key)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        issuer_cert, issuer_key = (None, key) if self_signed else (self.intermediate, self.int_key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name("Check Signer"))
            .issuer_name(_name("Check Signer") if self_signed else issuer_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - dt.timedelta(hours=1))
            .not_valid_after(not_after or NOW + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        builder = builder.add_extension(ku or _ku(digital_signature=True), critical=True)
        if aki:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        if ekus is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=False)
        if critical_oid:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(ObjectIdentifier(critical_oid), b"\x05\x00"),
                critical=True,
            )
        algo = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        cert = builder.sign(issuer_key, algo)
        chain = _pem(cert) if self_signed else _pem(cert) + _pem(self.intermediate)
        return chain, _key_pem(key), key


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def _codes(result: Any, severity: Severity = Severity.ERROR) -> list[str]:
    return [f.code for f in result.findings if f.severity is severity]


def test_good_chain_has_no_findings(pki: Pki) -> None:
    chain, key_pem, _ = pki.ee()
    result = check_certificate(
        chain, alg="es256", key_pem=key_pem, trust_anchors_pem=_pem(pki.root)
    )
    assert result.ok and result.findings == ()
    assert result.key_alg == "es256" and result.chain_length == 2
    assert "Check Signer" in result.subject and "Intermediate" in result.issuer


def test_project_pki_passes() -> None:
    demo = make_pki("Check", seed=b"certcheck")
    for alg in ("es256", "ed25519", "ps256"):
        result = check_certificate(
            demo.chain_pem(alg), alg=alg, key_pem=demo.key_pem(alg), trust_anchors_pem=demo.root_pem
        )
        assert result.ok and not result.findings, result.findings


BAD = {
    "eku_missing": {"ekus": None},
    "eku_any": {"ekus": [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]},
    "eku_not_allowed": {"ekus": [ExtendedKeyUsageOID.SERVER_AUTH]},
    "eku_exclusive": {"ekus": [ExtendedKeyUsageOID.TIME_STAMPING, C2PA]},
    "aki_missing": {"aki": False},
    "ku_no_digital_signature": {"ku": _ku(key_encipherment=True)},
    "ku_key_cert_sign": {"ku": _ku(digital_signature=True, key_cert_sign=True)},
    "expired": {
        "not_before": NOW - dt.timedelta(days=30),
        "not_after": NOW - dt.timedelta(days=1),
    },
    "not_yet_valid": {"not_before": NOW + dt.timedelta(days=1)},
    "is_ca": {"ca": True, "ku": _ku(digital_signature=True)},
    "critical_extension": {"critical_oid": "1.3.6.1.4.1.99999.7"},
}


@pytest.mark.parametrize("code", sorted(BAD))
def test_each_problem_is_named(pki: Pki, code: str) -> None:
    chain, key_pem, _ = pki.ee(**BAD[code])
    result = check_certificate(chain, alg="es256", key_pem=key_pem)
    assert not result.ok
    assert code in _codes(result)
    finding = next(f for f in result.findings if f.code == code)
    assert finding.certificate == 0 and "Check Signer" in finding.message


# Problems c2pa-rs itself refuses while signing (its message is generic).
SDK_REFUSES = [
    "eku_missing",
    "eku_any",
    "eku_not_allowed",
    "aki_missing",
    "ku_no_digital_signature",
    "ku_key_cert_sign",
    "expired",
    "not_yet_valid",
    "is_ca",
]


@pytest.mark.parametrize("code", SDK_REFUSES)
def test_the_sdk_refuses_what_preflight_names(pki: Pki, code: str) -> None:
    import c2pa
    from PIL import Image

    chain, key_pem, _ = pki.ee(**BAD[code])
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "JPEG")
    definition = {
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            }
        ]
    }
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo("es256", chain, key_pem, None))
    with pytest.raises(c2pa.C2paError), c2pa.Builder(definition) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(buf.getvalue()), io.BytesIO())


def test_accepted_by_the_sdk_but_doubtful_are_warnings(pki: Pki) -> None:
    chain, key_pem, _ = pki.ee(ku=_ku(content_commitment=True))
    result = check_certificate(chain, key_pem=key_pem)
    assert result.ok and _codes(result, Severity.WARNING) == ["ku_non_repudiation_only"]
    chain, key_pem, _ = pki.ee(self_signed=True)
    result = check_certificate(chain, key_pem=key_pem)
    assert result.ok and _codes(result, Severity.WARNING) == ["self_signed"]
    anchored = check_certificate(chain, key_pem=key_pem, trust_anchors_pem=_pem(pki.root))
    assert _codes(anchored, Severity.WARNING) == ["self_signed", "root_not_anchor"]
    assert check_certificate(chain, key_pem=key_pem, trust_anchors_pem=chain).warnings[0].code == (
        "self_signed"
    )


def test_key_and_algorithm_mismatch(pki: Pki) -> None:
    chain, key_pem, _ = pki.ee(key=ec.generate_private_key(ec.SECP384R1()))
    result = check_certificate(chain, alg="es256", key_pem=key_pem)
    assert _codes(result) == ["key_alg_mismatch"]
    assert "--alg es384" in result.errors[0].message
    assert check_certificate(chain, alg="es384", key_pem=key_pem).ok
    assert _codes(check_certificate(chain, alg="ps256")) == ["key_alg_mismatch"]
    assert _codes(check_certificate(chain, alg="rot13")) == ["alg_unknown"]


def test_key_does_not_match_certificate(pki: Pki) -> None:
    chain, _, _ = pki.ee()
    other = _key_pem(ec.generate_private_key(ec.SECP256R1()))
    result = check_certificate(chain, alg="es256", key_pem=other)
    assert _codes(result) == ["key_mismatch"]
    assert result.errors[0].certificate is None
    assert "does not belong" in result.errors[0].message


def test_chain_out_of_order(pki: Pki) -> None:
    chain, key_pem, _ = pki.ee()
    ee, intermediate = load_certificates(chain)
    reversed_chain = _pem(intermediate) + _pem(ee)
    result = check_certificate(reversed_chain, alg="es256", key_pem=key_pem)
    assert "chain_order" in _codes(result)
    assert "signing certificate first" in next(
        f.message for f in result.errors if f.code == "chain_order"
    )


def test_missing_intermediate(pki: Pki) -> None:
    chain, key_pem, _ = pki.ee()
    ee = load_certificates(chain)[0]
    alone = check_certificate(_pem(ee), key_pem=key_pem, trust_anchors_pem=_pem(pki.root))
    assert _codes(alone) == ["chain_incomplete"]
    assert "Check Intermediate CA" in alone.errors[0].message
    with_root = check_certificate(_pem(ee) + _pem(pki.root), key_pem=key_pem)
    assert _codes(with_root) == ["chain_broken"]
    assert "is missing" in with_root.errors[0].message
    # Without anchors a lone certificate cannot be judged: only a warning.
    unknown = check_certificate(_pem(ee), key_pem=key_pem)
    assert unknown.ok and _codes(unknown, Severity.WARNING) == ["chain_single"]


def test_chain_not_leading_to_the_anchors(pki: Pki) -> None:
    chain, key_pem, _ = pki.ee()
    stranger = Pki()
    result = check_certificate(
        chain + _pem(pki.root), key_pem=key_pem, trust_anchors_pem=_pem(stranger.root)
    )
    assert result.ok and _codes(result, Severity.WARNING) == ["root_not_anchor"]


def test_weak_and_unsupported_keys(pki: Pki) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    chain, _, _ = pki.ee(key=small)
    assert "key_too_small" in _codes(check_certificate(chain, alg="ps256"))
    k1 = ec.generate_private_key(ec.SECP256K1())
    chain, _, _ = pki.ee(key=k1)
    result = check_certificate(chain)
    assert "key_unsupported" in _codes(result) and result.key_alg is None


def test_expiring_soon_is_a_warning_unless_timestamped(pki: Pki) -> None:
    chain, key_pem, _ = pki.ee(not_after=NOW + dt.timedelta(days=3))
    result = check_certificate(chain, key_pem=key_pem)
    assert result.ok and _codes(result, Severity.WARNING) == ["expires_soon"]
    assert "--tsa" in result.warnings[0].message
    assert check_certificate(chain, key_pem=key_pem, timestamped=True).warnings == ()


def test_only_documentsigning_is_accepted_with_a_warning(pki: Pki) -> None:
    chain, key_pem, _ = pki.ee(ekus=[ObjectIdentifier("1.3.6.1.5.5.7.3.36")])
    result = check_certificate(chain, key_pem=key_pem)
    assert result.ok and _codes(result, Severity.WARNING) == ["eku_narrow"]


def test_alg_for_key() -> None:
    assert alg_for_key(ec.generate_private_key(ec.SECP521R1())) == "es512"
    assert alg_for_key(ed25519.Ed25519PrivateKey.generate().public_key()) == "ed25519"
    assert alg_for_key(object()) is None


SECRET = b"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRETSECRETSECRET"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (
            b"-----BEGIN PRIVATE KEY-----\n" + SECRET + b"\n-----END PRIVATE KEY-----\n",
            "key_unreadable",
        ),
        (SECRET, "key_unreadable"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "key_unreadable"),
    ],
)
def test_bad_key_is_not_echoed(data: bytes, code: str) -> None:
    with pytest.raises(CertificateError) as info:
        load_private_key(data, origin="private key file k.pem")
    err = info.value
    assert err.code == code
    text = err.diagnostics() + repr(err) + str(err)
    assert "SECRET" not in text and "MIGH" not in text
    assert "k.pem" in err.message


def test_encrypted_key_is_named() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(CertificateError) as info:
        load_private_key(pem)
    assert info.value.code == "key_encrypted" and "--signer-cmd" in info.value.message


def test_unreadable_chain() -> None:
    with pytest.raises(CertificateError) as info:
        load_certificates(b"hello")
    assert info.value.code == "cert_unreadable"
    with pytest.raises(CertificateError, match="swapped"):
        load_certificates(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
