"""A small test and demo PKI: root CA -> intermediate CA -> end-entity signing certificates.

The certificates satisfy the C2PA certificate profile as checked by c2pa-rs (spec 2.2
§14.5): X.509 v3, AuthorityKeyIdentifier everywhere, SubjectKeyIdentifier on CAs,
``digitalSignature`` key usage and an ExtendedKeyUsage with C2PA claim signing
(1.3.6.1.4.1.62558.2.1) plus emailProtection on end-entity certificates, which are never
CAs. Nothing is written to disk unless :meth:`Pki.write_to` is called; everything else
returns PEM bytes.

Examples
--------
>>> pki = make_pki("Jinjja Demo", algs=("es256",), seed=b"doc")
>>> pki.chain_pem("es256").count(b"BEGIN CERTIFICATE")
2
>>> pki.key_pem("es256").startswith(b"-----BEGIN PRIVATE KEY-----")
True
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = [
    "C2PA_CLAIM_SIGNING",
    "DEFAULT_EE_EKUS",
    "Alg",
    "Credential",
    "Pki",
    "make_pki",
]

C2PA_CLAIM_SIGNING: Final = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
"""The ``c2pa-kp-claimSigning`` extended key usage."""
DEFAULT_EE_EKUS: Final = (C2PA_CLAIM_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION)
"""EKUs put on end-entity certificates (both, for compatibility with every validator)."""

_PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


class Alg(enum.StrEnum):
    """Signing algorithms the PKI issues end-entity certificates for (c2pa names)."""

    ES256 = "es256"
    ED25519 = "ed25519"
    PS256 = "ps256"


@dataclass(frozen=True)
class Credential:
    """One end-entity signing credential."""

    alg: Alg
    """Signing algorithm (``es256``, ``ed25519``, ``ps256``)."""
    cert_pem: bytes
    """The end-entity certificate."""
    chain_pem: bytes
    """End-entity certificate followed by the intermediate (what a C2PA signer needs)."""
    key_pem: bytes
    """Unencrypted PKCS#8 private key."""
    not_before: dt.datetime
    not_after: dt.datetime


@dataclass(frozen=True)
class Pki:
    """A root CA, an intermediate CA and end-entity credentials per algorithm."""

    common_name: str
    """Base common name ("Jinjja Demo" gives "Jinjja Demo Root CA", ...)."""
    root_pem: bytes
    """Root CA certificate: the trust anchor."""
    intermediate_pem: bytes
    """Intermediate CA certificate (issues the end-entity certificates)."""
    credentials: Mapping[Alg, Credential]
    """End-entity credential per algorithm."""
    _intermediate_key: _PrivateKey = field(repr=False)
    _intermediate_cert: x509.Certificate = field(repr=False)
    _organization: str = field(repr=False, default="Jinjja")
    _seed: bytes | None = field(repr=False, default=None)

    def credential(self, alg: Alg | str = Alg.ES256) -> Credential:
        """Return the credential for ``alg``.

        Raises
        ------
        KeyError
            When this PKI was made without that algorithm.
        """
        key = Alg(alg)
        if key not in self.credentials:
            raise KeyError(f"this PKI has no {key} credential; made with {list(self.credentials)}")
        return self.credentials[key]

    def chain_pem(self, alg: Alg | str = Alg.ES256) -> bytes:
        """End-entity + intermediate certificates for ``alg`` (PEM)."""
        return self.credential(alg).chain_pem

    def key_pem(self, alg: Alg | str = Alg.ES256) -> bytes:
        """Private key for ``alg`` (PKCS#8 PEM)."""
        return self.credential(alg).key_pem

    def issue(
        self,
        alg: Alg | str = Alg.ES256,
        *,
        common_name: str | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        ekus: Sequence[ObjectIdentifier] | None = DEFAULT_EE_EKUS,
        label: str = "extra",
    ) -> Credential:
        """Issue one more end-entity credential from this PKI's intermediate.

        Parameters
        ----------
        alg
            Key and signature algorithm.
        common_name
            Subject CN; default ``"<common_name> Signer (<alg>)"``.
        not_before, not_after
            Validity; default from one hour ago for one year.
        ekus
            Extended key usages; None leaves the extension out (c2pa-rs rejects that).
        label
            Mixed into the seed so several credentials from a seeded PKI differ.

        Returns
        -------
        Credential
            The new credential.
        """
        a = Alg(alg)
        now = dt.datetime.now(dt.UTC)
        nb = not_before or now - dt.timedelta(hours=1)
        na = not_after or nb + dt.timedelta(days=365)
        return _issue_ee(
            a,
            common_name or f"{self.common_name} Signer ({a.value})",
            self._organization,
            self._intermediate_key,
            self._intermediate_cert,
            nb,
            na,
            ekus,
            _subseed(self._seed, f"ee-{label}-{a.value}"),
        )

    def write_to(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``root.pem``, ``intermediate.pem`` and ``<alg>.chain.pem`` / ``<alg>.key``.

        Parameters
        ----------
        directory
            Created if missing. Keys are written with mode 0600.

        Returns
        -------
        dict of str to Path
            What was written, keyed by ``root``, ``intermediate``, ``<alg>.chain``, ``<alg>.key``.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = {"root": out / "root.pem", "intermediate": out / "intermediate.pem"}
        written["root"].write_bytes(self.root_pem)
        written["intermediate"].write_bytes(self.intermediate_pem)
        for alg, cred in self.credentials.items():
            chain = out / f"{alg.value}.chain.pem"
            key = out / f"{alg.value}.key"
            chain.write_bytes(cred.chain_pem)
            key.write_bytes(cred.key_pem)
            key.chmod(0o600)
            written[f"{alg.value}.chain"] = chain
            written[f"{alg.value}.key"] = key
        return written


def _subseed(seed: bytes | None, label: str) -> bytes | None:
    if seed is None:
        return None
    return hashlib.sha256(seed + b"\x00" + label.encode("utf-8")).digest()


def _serial(seed: bytes | None) -> int:
    if seed is None:
        return x509.random_serial_number()
    return int.from_bytes(hashlib.sha256(b"serial" + seed).digest()[:19], "big") | 1


def _key(alg: Alg | None, seed: bytes | None) -> _PrivateKey:
    """A new private key; EC and Ed25519 keys are derived from ``seed`` when given."""
    if alg is Alg.ED25519:
        if seed is not None:
            return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
        return ed25519.Ed25519PrivateKey.generate()
    if alg is Alg.PS256:
        # RSA keys cannot be derived from a seed with cryptography; always random.
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if seed is not None:
        order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        secret = int.from_bytes(hashlib.sha256(seed).digest(), "big") % (order - 1) + 1
        return ec.derive_private_key(secret, ec.SECP256R1())
    return ec.generate_private_key(ec.SECP256R1())


def _sign_alg(key: _PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    name: x509.Name,
    key: _PrivateKey,
    issuer_name: x509.Name,
    issuer_key: _PrivateKey,
    nb: dt.datetime,
    na: dt.datetime,
    seed: bytes | None,
    *,
    ca: bool,
    path_length: int | None = None,
) -> x509.CertificateBuilder:
    """The fields and extensions a CA and an end-entity certificate share; ``ca`` selects
    basic constraints and key usage (certificate and CRL signing, or digital signature)."""
    pub = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(pub)
        .serial_number(_serial(seed))
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )


def _ca(
    name: x509.Name,
    key: _PrivateKey,
    issuer_name: x509.Name,
    issuer_key: _PrivateKey,
    nb: dt.datetime,
    na: dt.datetime,
    path_length: int | None,
    seed: bytes | None,
) -> x509.Certificate:
    builder = _builder(
        name, key, issuer_name, issuer_key, nb, na, seed, ca=True, path_length=path_length
    )
    return builder.sign(issuer_key, _sign_alg(issuer_key))


def _issue_ee(
    alg: Alg,
    cn: str,
    org: str,
    ca_key: _PrivateKey,
    ca_cert: x509.Certificate,
    nb: dt.datetime,
    na: dt.datetime,
    ekus: Sequence[ObjectIdentifier] | None,
    seed: bytes | None,
) -> Credential:
    key = _key(alg, seed)
    builder = _builder(_name(cn, org), key, ca_cert.subject, ca_key, nb, na, seed, ca=False)
    if ekus is not None:
        # RFC 3161 §2.3: a time-stamping certificate's only EKU is timeStamping, critical.
        tsa = list(ekus) == [ExtendedKeyUsageOID.TIME_STAMPING]
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=tsa)
    cert = builder.sign(ca_key, _sign_alg(ca_key))
    return Credential(
        alg=alg,
        cert_pem=_pem(cert),
        chain_pem=_pem(cert) + _pem(ca_cert),
        key_pem=_key_pem(key),
        not_before=nb,
        not_after=na,
    )


def make_pki(
    common_name: str = "Jinjja Demo",
    *,
    organization: str | None = None,
    algs: Iterable[Alg | str] = (Alg.ES256, Alg.ED25519, Alg.PS256),
    now: dt.datetime | None = None,
    expired: bool = False,
    not_yet_valid: bool = False,
    bad_eku: bool = False,
    seed: bytes | None = None,
) -> Pki:
    """Make a root CA, an intermediate CA and one end-entity credential per algorithm.

    Parameters
    ----------
    common_name
        Base name for the subjects ("<cn> Root CA", "<cn> Intermediate CA",
        "<cn> Signer (<alg>)").
    organization
        Subject O; default ``common_name``.
    algs
        End-entity algorithms to issue (``es256``, ``ed25519``, ``ps256``).
    now
        Reference time (UTC); default the current time. CAs are valid from one day
        before ``now`` for ten years.
    expired
        End-entity certificates expired one day before ``now`` (valid for 30 days before).
    not_yet_valid
        End-entity certificates valid only from 30 days after ``now``.
    bad_eku
        End-entity certificates with serverAuth as their only EKU (not allowed for C2PA).
    seed
        Derive the EC/Ed25519 keys and serial numbers from this seed (reproducible
        certificates). RSA keys stay random.

    Returns
    -------
    Pki
        The PKI; nothing is written to disk.

    Raises
    ------
    ValueError
        For contradictory options (``expired`` with ``not_yet_valid``) or an unknown alg.
    """
    if expired and not_yet_valid:
        raise ValueError("a certificate cannot be both expired and not yet valid")
    chosen = tuple(dict.fromkeys(Alg(a) for a in algs))
    if not chosen:
        raise ValueError("give at least one algorithm")
    reference = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    org = organization or common_name
    ca_nb = reference - dt.timedelta(days=1)
    ca_na = reference + dt.timedelta(days=3650)
    root_key = _key(None, _subseed(seed, "root"))
    root_name = _name(f"{common_name} Root CA", org)
    root = _ca(root_name, root_key, root_name, root_key, ca_nb, ca_na, 1, _subseed(seed, "root"))
    int_key = _key(None, _subseed(seed, "intermediate"))
    int_name = _name(f"{common_name} Intermediate CA", org)
    intermediate = _ca(
        int_name, int_key, root_name, root_key, ca_nb, ca_na, 0, _subseed(seed, "intermediate")
    )
    if expired:
        nb, na = reference - dt.timedelta(days=30), reference - dt.timedelta(days=1)
    elif not_yet_valid:
        nb, na = reference + dt.timedelta(days=30), reference + dt.timedelta(days=365)
    else:
        nb, na = reference - dt.timedelta(hours=1), reference + dt.timedelta(days=365)
    ekus: Sequence[ObjectIdentifier] = (
        (ExtendedKeyUsageOID.SERVER_AUTH,) if bad_eku else DEFAULT_EE_EKUS
    )
    creds = {
        alg: _issue_ee(
            alg,
            f"{common_name} Signer ({alg.value})",
            org,
            int_key,
            intermediate,
            nb,
            na,
            ekus,
            _subseed(seed, f"ee-{alg.value}"),
        )
        for alg in chosen
    }
    return Pki(
        common_name=common_name,
        root_pem=_pem(root),
        intermediate_pem=_pem(intermediate),
        credentials=creds,
        _intermediate_key=int_key,
        _intermediate_cert=intermediate,
        _organization=org,
        _seed=seed,
    )
