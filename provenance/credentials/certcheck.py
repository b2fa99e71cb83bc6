"""Certificate pre-flight: say what is wrong with a signing certificate before signing.

The C2PA SDK refuses a bad signing certificate with one sentence ("the certificate is
invalid") whatever the cause. :func:`check_certificate` applies the rules c2pa-rs
enforces (C2PA 2.2 §14.5, ``certificate_profile.rs``) to the chain and the key one by
one and names each problem: extended key usage, key usage, validity, missing
AuthorityKeyIdentifier, CA flag, self-signed certificate, key type and size, key and
algorithm mismatch, a key that does not belong to the certificate, chain order and a
missing intermediate.

Findings are data (:class:`Finding`, severity ``error`` or ``warning``); only a chain
that cannot be parsed at all raises :class:`CertificateError`. Private keys are parsed
with :func:`load_private_key`, whose errors never echo the key file's content.

Examples
--------
>>> from provenance.testing.pki import make_pki
>>> pki = make_pki("Doc", algs=("es256",), seed=b"doc")
>>> result = check_certificate(pki.chain_pem("es256"), key_pem=pki.key_pem("es256"))
>>> result.ok, result.key_alg
(True, 'es256')
>>> bad = make_pki("Doc", algs=("es256",), seed=b"doc", bad_eku=True)
>>> [f.code for f in check_certificate(bad.chain_pem("es256")).errors]
['eku_not_allowed']
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, ObjectIdentifier

from provenance._clock import utc_now
from provenance.errors import CertificateError

__all__ = [
    "ALGORITHMS",
    "ALLOWED_EKUS",
    "CertCheck",
    "CertificateError",
    "Finding",
    "PrivateKey",
    "PublicKey",
    "Severity",
    "alg_for_key",
    "check_certificate",
    "load_certificates",
    "load_private_key",
    "verify_signature",
]

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
"""Private key types a C2PA signer can use."""
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
"""Public key types of C2PA signing certificates."""

ALGORITHMS: Final = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
"""C2PA signature algorithms (COSE names, lowercase)."""

_MS_C2PA: Final = ObjectIdentifier("1.3.6.1.4.1.311.76.59.1.9")
_C2PA_CLAIM_SIGNING: Final = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
_DOCUMENT_SIGNING: Final = ObjectIdentifier("1.3.6.1.5.5.7.3.36")

ALLOWED_EKUS: Final = {
    _C2PA_CLAIM_SIGNING.dotted_string: "C2PA claim signing",
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: "emailProtection",
    _DOCUMENT_SIGNING.dotted_string: "documentSigning",
    _MS_C2PA.dotted_string: "Microsoft C2PA signing",
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "OCSPSigning",
}
"""Extended key usages c2pa-rs accepts on a signing certificate (OID -> name)."""

_EXCLUSIVE_EKUS: Final = frozenset(
    {
        ExtendedKeyUsageOID.TIME_STAMPING.dotted_string,
        ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string,
    }
)
_EKU_NAMES: Final = {
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: "codeSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string: "anyExtendedKeyUsage",
    **ALLOWED_EKUS,
}
_CURVE_ALG: Final = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
_ALG_KEY: Final = {
    "es256": "an EC P-256 key",
    "es384": "an EC P-384 key",
    "es512": "an EC P-521 key",
    "ps256": "an RSA key",
    "ps384": "an RSA key",
    "ps512": "an RSA key",
    "ed25519": "an Ed25519 key",
}
_SIG_HASHES: Final = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
_HANDLED_CRITICAL: Final = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.POLICY_CONSTRAINTS,
    }
)
_EXPIRY_WARNING: Final = dt.timedelta(days=30)


class Severity(enum.StrEnum):
    """How bad a finding is."""

    ERROR = "error"
    """Signing would fail, or the signature would not validate anywhere."""
    WARNING = "warning"
    """Signing works, but some validators may object (or soon will)."""


@dataclass(frozen=True)
class Finding:
    """One problem found in the chain or the key."""

    code: str
    """Stable machine code (``eku_missing``, ``expired``, ``chain_order``, ...)."""
    message: str
    """A plain sentence naming the certificate and what is wrong."""
    severity: Severity
    """``error`` blocks signing; ``warning`` does not."""
    certificate: int | None = None
    """Position in the chain (0 is the signing certificate), or None for the key."""


@dataclass(frozen=True)
class CertCheck:
    """The outcome of :func:`check_certificate`."""

    subject: str
    """Signing certificate subject (RFC 4514)."""
    issuer: str
    """Signing certificate issuer (RFC 4514)."""
    not_before: dt.datetime
    """Start of validity (UTC)."""
    not_after: dt.datetime
    """End of validity (UTC)."""
    key_alg: str | None
    """The algorithm that matches the certificate's key (``es256``, ``ps256``, ...); None
    when the key type cannot sign C2PA manifests."""
    chain_length: int
    """Number of certificates in the chain."""
    findings: tuple[Finding, ...]
    """Everything found, errors first."""

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings that block signing."""
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings that do not block signing."""
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """True when nothing blocks signing."""
        return not self.errors


def _name(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if cns:
        return f"'{cns[0].value!s}'"
    return f"'{cert.subject.rfc4514_string() or '(empty subject)'}'"


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def load_certificates(
    chain_pem: bytes, *, origin: str = "the certificate chain"
) -> list[x509.Certificate]:
    """Parse a PEM chain (DER is accepted for a single certificate).

    Parameters
    ----------
    chain_pem
        PEM certificates, signing certificate first.
    origin
        Where they came from, for error messages.

    Returns
    -------
    list of cryptography.x509.Certificate
        The certificates in file order.

    Raises
    ------
    CertificateError
        ``cert_unreadable`` when there is no certificate or one does not parse.
    """
    if b"PRIVATE KEY-----" in chain_pem and b"CERTIFICATE-----" not in chain_pem:
        raise CertificateError(
            f"{origin} holds a private key, not certificates (are --cert and --key swapped?)",
            code="cert_unreadable",
        )
    try:
        if b"-----BEGIN" in chain_pem:
            certs = x509.load_pem_x509_certificates(chain_pem)
        else:
            certs = [x509.load_der_x509_certificate(chain_pem)]
    except ValueError:
        raise CertificateError(
            f"{origin} is not a PEM certificate chain (or a certificate in it is damaged)",
            code="cert_unreadable",
        ) from None
    if not certs:
        raise CertificateError(f"{origin} contains no certificate", code="cert_unreadable")
    return certs


def load_private_key(data: bytes, *, origin: str = "the private key") -> PrivateKey:
    """Parse an unencrypted private key (PEM PKCS#8, SEC1 or PKCS#1, or DER PKCS#8).

    Error messages never contain the key material.

    Parameters
    ----------
    data
        The key file's content.
    origin
        Where it came from, for error messages.

    Returns
    -------
    PrivateKey
        An EC, Ed25519 or RSA private key.

    Raises
    ------
    CertificateError
        ``key_unreadable``, ``key_encrypted`` or ``key_unsupported``.
    """
    if b"CERTIFICATE-----" in data and b"PRIVATE KEY-----" not in data:
        raise CertificateError(
            f"{origin} holds a certificate, not a private key (are --cert and --key swapped?)",
            code="key_unreadable",
        )
    loaded: object
    try:
        if b"-----BEGIN" in data:
            loaded = serialization.load_pem_private_key(data, password=None)
        else:
            loaded = serialization.load_der_private_key(data, password=None)
    except TypeError:
        raise CertificateError(
            f"{origin} is encrypted; give an unencrypted key, or keep the key in a KMS/HSM "
            "and sign with --signer-cmd",
            code="key_encrypted",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(
            f"{origin} is not a readable private key (expected PEM: PKCS#8, SEC1 or PKCS#1)",
            code="key_unreadable",
        ) from None
    if not isinstance(
        loaded, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)
    ):
        raise CertificateError(
            f"{origin} is a {type(loaded).__name__.removeprefix('_')}; C2PA signing needs "
            "an EC (P-256/P-384/P-521), RSA or Ed25519 key",
            code="key_unsupported",
        )
    return loaded


def alg_for_key(key: PrivateKey | PublicKey | object) -> str | None:
    """Return the C2PA algorithm that goes with a key (RSA gives ``ps256``).

    Parameters
    ----------
    key
        A private or public key.

    Returns
    -------
    str or None
        ``es256``/``es384``/``es512`` for EC P-256/P-384/P-521, ``ps256`` for RSA,
        ``ed25519`` for Ed25519; None for anything else.
    """
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return _CURVE_ALG.get(key.curve.name)
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "ps256"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    return None


def _alg_matches(alg: str, key_alg: str | None) -> bool:
    if key_alg is None:
        return False
    if alg.startswith("ps"):
        return key_alg == "ps256"
    return alg == key_alg


def _spki(key: PublicKey | object) -> bytes | None:
    if isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, rsa.RSAPublicKey)):
        return key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return None


def _ext(
    cert: x509.Certificate, cls: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # a malformed extension
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    ext = _ext(cert, x509.BasicConstraints)
    return ext is not None and isinstance(ext.value, x509.BasicConstraints) and ext.value.ca


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer``'s name and key produced ``cert``'s signature."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject and _issued_by(cert, cert)


def _key_findings(cert: x509.Certificate, index: int) -> list[Finding]:
    out: list[Finding] = []
    who = (
        f"certificate #{index + 1} ({_name(cert)})"
        if index
        else f"the signing certificate {_name(cert)}"
    )
    try:
        pub = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return [
            Finding(
                "key_unsupported",
                f"{who} has a public key that cannot be read",
                Severity.ERROR,
                index,
            )
        ]
    if isinstance(pub, ec.EllipticCurvePublicKey):
        if pub.curve.name not in _CURVE_ALG:
            out.append(
                Finding(
                    "key_unsupported",
                    f"{who} has an EC key on curve {pub.curve.name}; C2PA allows only "
                    "P-256, P-384 and P-521",
                    Severity.ERROR,
                    index,
                )
            )
    elif isinstance(pub, rsa.RSAPublicKey):
        if pub.key_size < 2048:
            out.append(
                Finding(
                    "key_too_small",
                    f"{who} has a {pub.key_size}-bit RSA key; C2PA needs at least 2048 bits",
                    Severity.ERROR,
                    index,
                )
            )
    elif not isinstance(pub, ed25519.Ed25519PublicKey):
        out.append(
            Finding(
                "key_unsupported",
                f"{who} has a {type(pub).__name__.removeprefix('_')}; C2PA allows EC "
                "(P-256/P-384/P-521), RSA (2048 bits or more) and Ed25519 keys",
                Severity.ERROR,
                index,
            )
        )
    return out


def _signature_findings(cert: x509.Certificate, index: int) -> list[Finding]:
    who = (
        f"certificate #{index + 1} ({_name(cert)})"
        if index
        else f"the signing certificate {_name(cert)}"
    )
    try:
        algo = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return [
            Finding(
                "signature_alg_unsupported",
                f"{who} is signed with an algorithm C2PA does not allow",
                Severity.ERROR,
                index,
            )
        ]
    oid = cert.signature_algorithm_oid
    if oid == x509.SignatureAlgorithmOID.ED25519:
        return []
    if algo is None or not isinstance(algo, _SIG_HASHES):
        name = algo.name if algo is not None else oid.dotted_string
        return [
            Finding(
                "signature_alg_unsupported",
                f"{who} is signed with {name}; C2PA allows SHA-256/384/512 with RSA, "
                "RSA-PSS or ECDSA, and Ed25519",
                Severity.ERROR,
                index,
            )
        ]
    return []


def _validity_findings(
    cert: x509.Certificate, index: int, at: dt.datetime, *, timestamped: bool
) -> list[Finding]:
    who = (
        f"certificate #{index + 1} ({_name(cert)})"
        if index
        else f"the signing certificate {_name(cert)}"
    )
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    if at < nb:
        return [
            Finding("not_yet_valid", f"{who} is not valid before {_utc(nb)}", Severity.ERROR, index)
        ]
    if at > na:
        return [Finding("expired", f"{who} expired on {_utc(na)}", Severity.ERROR, index)]
    if index == 0 and not timestamped and na - at < _EXPIRY_WARNING:
        days = (na - at).days
        return [
            Finding(
                "expires_soon",
                f"{who} expires on {_utc(na)} (in {days} day{'s' if days != 1 else ''}); "
                "without a timestamp (--tsa) signatures made now turn invalid then",
                Severity.WARNING,
                index,
            )
        ]
    return []


def _error(code: str, message: str) -> Finding:
    return Finding(code, message, Severity.ERROR, 0)


def _warning(code: str, message: str) -> Finding:
    return Finding(code, message, Severity.WARNING, 0)


def _ee_findings(cert: x509.Certificate) -> list[Finding]:
    """Problems of the signing (end-entity) certificate itself."""
    who = f"the signing certificate {_name(cert)}"
    out: list[Finding] = []
    if cert.version is not x509.Version.v3:
        out.append(_error("not_v3", f"{who} is not an X.509 version 3 certificate"))
    if _is_ca(cert):
        out.append(
            _error(
                "is_ca",
                f"{who} is a CA certificate (BasicConstraints CA=true); sign with an "
                "end-entity certificate issued by a CA",
            )
        )
    elif _self_signed(cert):
        out.append(
            _warning(
                "self_signed",
                f"{who} is self-signed: validators trust it only if this very certificate "
                "is on their trust list; use a certificate issued by a CA",
            )
        )
    if _ext(cert, x509.AuthorityKeyIdentifier) is None:
        out.append(
            _error(
                "aki_missing",
                f"{who} has no AuthorityKeyIdentifier extension (required by C2PA); re-issue "
                "it with the extension",
            )
        )
    out.extend(_ku_findings(cert, who))
    out.extend(_eku_findings(cert, who))
    for ext in cert.extensions:
        if ext.critical and ext.oid not in _HANDLED_CRITICAL:
            message = f"{who} has an unknown critical extension {ext.oid.dotted_string}"
            out.append(_error("critical_extension", message))
    return out


def _ku_findings(cert: x509.Certificate, who: str) -> list[Finding]:
    ku_ext = _ext(cert, x509.KeyUsage)
    if ku_ext is None:
        return [_error("ku_missing", f"{who} has no KeyUsage extension; it needs digitalSignature")]
    if not isinstance(ku_ext.value, x509.KeyUsage):
        return []
    out: list[Finding] = []
    ku = ku_ext.value
    if not ku.digital_signature and not ku.content_commitment:
        message = f"{who} does not allow digitalSignature in its KeyUsage"
        out.append(_error("ku_no_digital_signature", message))
    elif not ku.digital_signature:
        out.append(
            _warning(
                "ku_non_repudiation_only",
                f"{who} allows only nonRepudiation, not digitalSignature, in its KeyUsage; "
                "the C2PA specification asks for digitalSignature",
            )
        )
    if ku.key_cert_sign:
        message = f"{who} allows keyCertSign, which an end-entity certificate must not"
        out.append(_error("ku_key_cert_sign", message))
    return out


def _eku_findings(cert: x509.Certificate, who: str) -> list[Finding]:
    eku_ext = _ext(cert, x509.ExtendedKeyUsage)
    if eku_ext is None or not isinstance(eku_ext.value, x509.ExtendedKeyUsage):
        return [
            _error(
                "eku_missing",
                f"{who} has no ExtendedKeyUsage extension; C2PA needs one of: "
                "C2PA claim signing (1.3.6.1.4.1.62558.2.1), emailProtection, documentSigning",
            )
        ]
    oids = [o.dotted_string for o in eku_ext.value]
    shown = ", ".join(_EKU_NAMES.get(o, o) for o in oids) or "none"
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE.dotted_string in oids:
        message = f"{who} has anyExtendedKeyUsage, which C2PA rejects (EKUs: {shown})"
        return [_error("eku_any", message)]
    if not any(o in ALLOWED_EKUS for o in oids):
        return [
            _error(
                "eku_not_allowed",
                f"{who} has no extended key usage C2PA accepts (it has: {shown}); it needs "
                "C2PA claim signing (1.3.6.1.4.1.62558.2.1), emailProtection or documentSigning",
            )
        ]
    if len(oids) > 1 and any(o in _EXCLUSIVE_EKUS for o in oids):
        return [
            _error(
                "eku_exclusive",
                f"{who} combines timeStamping or OCSPSigning with other usages ({shown}), "
                "which C2PA rejects",
            )
        ]
    preferred = (
        _C2PA_CLAIM_SIGNING.dotted_string,
        ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string,
    )
    if not any(o in preferred for o in oids):
        return [
            _warning(
                "eku_narrow",
                f"{who} lacks both C2PA claim signing and emailProtection ({shown}); "
                "some validators only accept those",
            )
        ]
    return []


def _out_of_order(index: int) -> Finding:
    return Finding(
        "chain_order",
        "the certificate chain is out of order: put the signing certificate first, "
        "then each issuing CA (intermediate before root)",
        Severity.ERROR,
        index,
    )


def _chain_findings(
    certs: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate] | None
) -> list[Finding]:
    out: list[Finding] = []
    ee = certs[0]
    # Chain order: every certificate must be issued by the next one.
    for i in range(len(certs) - 1):
        cert, nxt = certs[i], certs[i + 1]
        if _issued_by(cert, nxt):
            if not _is_ca(nxt):
                out.append(
                    Finding(
                        "chain_not_ca",
                        f"certificate #{i + 2} ({_name(nxt)}) issued #{i + 1} but is not a CA",
                        Severity.ERROR,
                        i + 1,
                    )
                )
            continue
        if any(_issued_by(other, cert) for other in certs if other is not cert) or any(
            _issued_by(cert, other) for other in certs if other is not nxt
        ):
            out.append(_out_of_order(i))
            return out
        out.append(
            Finding(
                "chain_broken",
                f"certificate #{i + 1} ({_name(cert)}) was not issued by certificate #{i + 2} "
                f"({_name(nxt)}); the CA that issued it ({cert.issuer.rfc4514_string()}) "
                "is missing",
                Severity.ERROR,
                i,
            )
        )
        return out
    if _is_ca(ee) and len(certs) > 1 and any(_issued_by(c, ee) for c in certs[1:]):
        out.append(_out_of_order(0))
        return out
    last = certs[-1]
    if _self_signed(last):
        if anchors is not None and not any(a == last for a in anchors):
            out.append(
                Finding(
                    "root_not_anchor",
                    f"the chain ends at self-signed {_name(last)}, which is not among the "
                    "trust anchors",
                    Severity.WARNING,
                    len(certs) - 1,
                )
            )
        return out
    if anchors is not None:
        if not any(_issued_by(last, a) for a in anchors):
            out.append(
                Finding(
                    "chain_incomplete",
                    f"certificate #{len(certs)} ({_name(last)}) is issued by "
                    f"'{last.issuer.rfc4514_string()}', which is neither in the chain nor a "
                    "trust anchor: add the missing intermediate certificate to the chain",
                    Severity.ERROR,
                    len(certs) - 1,
                )
            )
    elif len(certs) == 1:
        out.append(
            Finding(
                "chain_single",
                f"the chain holds only the signing certificate; unless its issuer "
                f"('{ee.issuer.rfc4514_string()}') is a root that validators trust, add the "
                "intermediate certificate after it",
                Severity.WARNING,
                0,
            )
        )
    return out


def _alg_findings(alg: str | None, key_alg: str | None) -> list[Finding]:
    """The chosen signature algorithm against the signing certificate's key."""
    if alg is None:
        return []
    wanted = alg.lower()
    if wanted not in ALGORITHMS:
        message = f"unknown algorithm {alg!r} (choose from {', '.join(ALGORITHMS)})"
        return [Finding("alg_unknown", message, Severity.ERROR)]
    if key_alg is not None and not _alg_matches(wanted, key_alg):
        return [
            _error(
                "key_alg_mismatch",
                f"{wanted} needs {_ALG_KEY[wanted]}, but the signing certificate has "
                f"{_ALG_KEY[key_alg]} (use --alg {key_alg})",
            )
        ]
    return []


def _key_match_findings(
    key: PrivateKey | None, ee: x509.Certificate, ee_pub: object
) -> list[Finding]:
    """Whether the private key belongs to the signing certificate."""
    if key is None:
        return []
    private_pub = _spki(key.public_key())
    if private_pub is not None and private_pub == _spki(ee_pub):
        return []
    return [
        Finding(
            "key_mismatch",
            f"the private key does not belong to the signing certificate {_name(ee)} "
            "(wrong key file, or the chain does not start with the signing certificate)",
            Severity.ERROR,
            None,
        )
    ]


def check_certificate(
    chain_pem: bytes,
    *,
    alg: str | None = None,
    key: PrivateKey | None = None,
    key_pem: bytes | None = None,
    at: dt.datetime | None = None,
    trust_anchors_pem: bytes | None = None,
    timestamped: bool = False,
) -> CertCheck:
    """Check a signing chain (and optionally its key and algorithm) against the C2PA profile.

    Parameters
    ----------
    chain_pem
        Signing certificate first, then intermediates (root optional), PEM.
    alg
        The signature algorithm that will be used; checked against the key type.
    key, key_pem
        The private key (object or PEM); checked to belong to the signing certificate.
    at
        The signing time; default now.
    trust_anchors_pem
        Anchors readers will use. With them, a chain that does not lead to an anchor is
        reported as missing an intermediate (error) or as untrusted (warning).
    timestamped
        A trusted timestamp will be added (suppresses the "expires soon" warning).

    Returns
    -------
    CertCheck
        Findings, errors first.

    Raises
    ------
    CertificateError
        When the chain, the key or the anchors cannot be parsed at all (never echoes
        key material).
    """
    certs = load_certificates(chain_pem)
    anchors = (
        load_certificates(trust_anchors_pem, origin="the trust anchors")
        if trust_anchors_pem
        else None
    )
    if key is None and key_pem is not None:
        key = load_private_key(key_pem)
    moment = (at or utc_now()).astimezone(dt.UTC)
    ee = certs[0]
    findings: list[Finding] = []
    findings.extend(_ee_findings(ee))
    for i, cert in enumerate(certs):
        findings.extend(_key_findings(cert, i))
        findings.extend(_signature_findings(cert, i))
        findings.extend(_validity_findings(cert, i, moment, timestamped=timestamped))
    findings.extend(_chain_findings(certs, anchors))
    try:
        ee_pub: object = ee.public_key()
    except (ValueError, UnsupportedAlgorithm):
        ee_pub = None
    key_alg = alg_for_key(ee_pub)
    findings.extend(_alg_findings(alg, key_alg))
    findings.extend(_key_match_findings(key, ee, ee_pub))
    order = {Severity.ERROR: 0, Severity.WARNING: 1}
    findings.sort(key=lambda f: order[f.severity])
    return CertCheck(
        subject=ee.subject.rfc4514_string(),
        issuer=ee.issuer.rfc4514_string(),
        not_before=ee.not_valid_before_utc,
        not_after=ee.not_valid_after_utc,
        key_alg=key_alg,
        chain_length=len(certs),
        findings=tuple(findings),
    )


def verify_signature(public_key: object, signature: bytes, data: bytes, alg: str) -> bool:
    """Return True when ``signature`` (raw or DER ECDSA, RSA-PSS, Ed25519) verifies.

    Parameters
    ----------
    public_key
        The signing certificate's public key.
    signature
        What an external signer returned.
    data
        The bytes that were signed.
    alg
        The C2PA algorithm name.

    Returns
    -------
    bool
        Whether the signature is valid for ``data`` under ``public_key`` and ``alg``.
    """

    digest: hashes.HashAlgorithm = {
        "256": hashes.SHA256(),
        "384": hashes.SHA384(),
        "512": hashes.SHA512(),
    }.get(alg[-3:], hashes.SHA256())
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey) and alg.startswith("es"):
            size = (public_key.curve.key_size + 7) // 8
            if len(signature) == 2 * size:
                r = int.from_bytes(signature[:size], "big")
                s = int.from_bytes(signature[size:], "big")
                signature = encode_dss_signature(r, s)
            public_key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(public_key, rsa.RSAPublicKey) and alg.startswith("ps"):
            public_key.verify(
                signature,
                data,
                padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size),
                digest,
            )
        elif isinstance(public_key, ed25519.Ed25519PublicKey) and alg == "ed25519":
            public_key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
