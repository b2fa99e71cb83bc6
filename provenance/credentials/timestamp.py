"""RFC 3161 timestamps of C2PA signatures, verified here rather than trusted to the SDK.

A C2PA signature may carry a timestamp token from a time-stamping authority (TSA): the
COSE header ``sigTst`` (C2PA 1.x, a whole ``TimeStampResp``) or ``sigTst2`` (2.x, the
``TimeStampToken`` alone). The token stamps a COSE countersignature structure
(``["CounterSignature", protected header, h'', payload]``) whose payload is the claim
(1.x) or the CBOR-encoded signature (2.x), as c2pa-rs builds it.

:func:`check_timestamp` verifies, with ``rfc3161-client`` (OpenSSL underneath):

* the message imprint against that structure (the token dates *this* signature);
* the TSA's signature and certificate chain, valid at the token's ``genTime``, up to an
  anchor of the TSA trust list (or the anchors given for TSAs), with the critical
  ``timeStamping`` extended key usage RFC 3161 requires.

c2pa-rs does not check the TSA of 1.x manifests against any list; this check does, for
1.x and 2.x alike. Whether the signing certificate was valid at ``genTime`` is judged by
the caller (:func:`signer_valid_at`), which knows the certificate.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

from provenance.report import Timestamp

if TYPE_CHECKING:
    from provenance.credentials._c2pa import SignatureParts

__all__ = ["check_timestamp", "countersign_data", "issued_by", "path_to_anchor", "signer_valid_at"]

_HASHES: Final = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.3.14.3.2.26": "sha1",
}
_GRANTED: Final = b"\x30\x03\x02\x01\x00"  # PKIStatusInfo { status granted(0) }

_HASH_CLASSES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
UNREADABLE: Final = "the timestamp could not be read"
NOT_DER: Final = "the timestamp is not strictly DER-encoded, so it could not be verified"
MISMATCH: Final = "the timestamp does not match the signature it claims to date"
NO_TSA_LIST: Final = "no trust list for time-stamping authorities is in use"
UNTRUSTED_TSA: Final = (
    "the time-stamping authority is not on the TSA trust list or the anchors given for TSAs"
)


def _cbor_head(major: int, length: int) -> bytes:
    """CBOR initial byte(s) for a major type and a length (RFC 8949 §3)."""
    if length < 24:
        return bytes([major << 5 | length])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * width):
            return bytes([major << 5 | info]) + length.to_bytes(width, "big")
    raise ValueError("CBOR length too large")


def _bstr(data: bytes) -> bytes:
    return _cbor_head(2, len(data)) + data


def countersign_data(parts: SignatureParts, version: int) -> bytes | None:
    """The bytes a C2PA timestamp stamps (c2pa-rs ``cose_countersign_data``).

    Parameters
    ----------
    parts
        The signature's pieces.
    version
        1 (``sigTst``: the claim is stamped) or 2 (``sigTst2``: the signature is).

    Returns
    -------
    bytes or None
        The CBOR countersignature structure; None when the claim of a 1.x signature
        was not found.
    """
    if version == 1:
        if parts.claim is None:
            return None
        payload = parts.claim
    else:
        payload = _bstr(parts.signature)
    context = b"CounterSignature"
    return (
        _cbor_head(4, 4)
        + _cbor_head(3, len(context))
        + context
        + _bstr(parts.protected)
        + _bstr(b"")
        + _bstr(payload)
    )


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _as_response(value: bytes) -> bytes:
    """A 1.x value is a ``TimeStampResp`` already; a 2.x token is wrapped as granted."""
    try:
        response = tsp.TimeStampResp.load(value)
        if response["status"]["status"].native is not None and len(response.contents) > 0:
            return value
    except (ValueError, TypeError, KeyError):
        pass
    body = _GRANTED + value
    return b"\x30" + _der_length(len(body)) + body


def _der_certificate_set(response: bytes) -> bytes:
    """The response with its token's certificate SET re-encoded in DER order.

    Real TSAs often send the certificates unsorted, which strict DER parsers refuse; the
    set is not signed, so sorting it changes nothing that is verified.
    """
    parsed = tsp.TimeStampResp.load(response)
    signed = parsed["time_stamp_token"]["content"]
    signed["certificates"] = cms.CertificateSet(list(signed["certificates"]))
    return bytes(parsed.dump())


def _decode(value: bytes) -> Any:
    """A ``TimeStampResponse`` from a 1.x response or a 2.x token."""
    response = _as_response(value)
    try:
        return decode_timestamp_response(response)
    except ValueError:
        return decode_timestamp_response(_der_certificate_set(response))


def _lenient(value: bytes) -> tuple[str | None, str | None]:
    """``genTime`` and TSA name read leniently (asn1crypto), for a token the strict
    verifier refuses; (None, None) when even that fails."""
    try:
        signed = tsp.TimeStampResp.load(_as_response(value))["time_stamp_token"]["content"]
        info = signed["encap_content_info"]["content"].parsed
        when = _rfc3339(info["gen_time"].native)
        name = None
        for choice in signed["certificates"] or ():
            cert = choice.chosen
            if not cert.ca and "time_stamping" in (cert.extended_key_usage_value.native or ()):
                name = cert.subject.native.get("common_name")
        return when, name if isinstance(name, str) else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _rfc3339(moment: dt.datetime) -> str:
    return _utc(moment).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tsa_certificate(response: Any) -> x509.Certificate | None:
    signer_infos = list(response.signed_data.signer_infos)
    if len(signer_infos) != 1:
        return None
    info = signer_infos[0]
    for der in response.signed_data.certificates:
        cert = _load_der(der)
        if cert.issuer == info.issuer and cert.serial_number == info.serial_number:
            return cert
    return None


def _common_name(cert: x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else None
    return value if isinstance(value, str) else None


def _imprint_matches(response: Any, stamped: bytes) -> bool:
    imprint = response.tst_info.message_imprint
    name = _HASHES.get(imprint.hash_algorithm.dotted_string)
    return name is not None and hashlib.new(name, stamped).digest() == imprint.message


def _chain_problem(response: Any, anchors: Sequence[x509.Certificate]) -> str | None:
    """None when the TSA's signature and chain verify at genTime up to an anchor."""
    if not anchors:
        return NO_TSA_LIST
    builder = VerifierBuilder()
    for anchor in dict.fromkeys(anchors):
        builder = builder.add_root_certificate(anchor)
    try:
        builder.build().verify(response, response.tst_info.message_imprint.message)
    except VerificationError as exc:
        text = str(exc)
        if "issuer certificate" in text and _partial_chain(response, anchors):
            return None
        if "verifying certificates" in text:
            return UNTRUSTED_TSA
        return f"the time-stamping certificate is not usable ({text.rstrip('.')})"
    return None


@functools.lru_cache(maxsize=2048)
def _load_der(der: bytes) -> x509.Certificate:
    """A DER certificate, parsed once: the same TSA and signer chains recur file after file."""
    return x509.load_der_x509_certificate(der)


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``cert`` (names and signature checked, not dates)."""
    if cert.issuer != issuer.subject:
        return False
    return _signed_by(cert, issuer)


@functools.lru_cache(maxsize=4096)
def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The signature check of :func:`issued_by`, once per pair (certificates are immutable
    and the same chains recur across a batch)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


_AnchorIndex = tuple[frozenset[x509.Certificate], dict[x509.Name, list[x509.Certificate]]]
_INDEXES: dict[int, tuple[Sequence[x509.Certificate], _AnchorIndex]] = {}


def _anchor_index(anchors: Sequence[x509.Certificate]) -> _AnchorIndex:
    """The anchors as a set and by subject name, kept for the few anchor lists a checker
    holds (a list of hundreds of anchors is otherwise scanned for every certificate)."""
    hit = _INDEXES.get(id(anchors))
    if hit is not None and hit[0] is anchors:
        return hit[1]
    by_subject: dict[x509.Name, list[x509.Certificate]] = {}
    for anchor in anchors:
        by_subject.setdefault(anchor.subject, []).append(anchor)
    index = (frozenset(anchors), by_subject)
    if len(_INDEXES) >= 32:
        _INDEXES.clear()
    _INDEXES[id(anchors)] = (anchors, index)
    return index


def path_to_anchor(
    leaf: x509.Certificate,
    pool: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    *,
    limit: int = 12,
) -> list[x509.Certificate] | None:
    """The certificates from ``leaf`` up to (not including) the anchor that issued the
    last of them, or None. Anchors may be intermediate CAs (a partial chain)."""
    members, by_subject = _anchor_index(anchors)
    path = [leaf]
    current = leaf
    for _ in range(limit):
        if current in members or any(
            issued_by(current, a) for a in by_subject.get(current.issuer, ())
        ):
            return path
        nxt = next((c for c in pool if c not in path and issued_by(current, c)), None)
        if nxt is None:
            return None
        path.append(nxt)
        current = nxt
    return None


def _partial_chain(response: Any, anchors: Sequence[x509.Certificate]) -> bool:
    """The TSA chain ends at an anchor that is an intermediate CA (OpenSSL, underneath
    rfc3161-client, accepts only self-signed roots): check the chain here, valid at
    genTime, the critical timeStamping EKU, and the CMS signature (asn1crypto parses,
    cryptography verifies)."""
    leaf = _tsa_certificate(response)
    if leaf is None or not _timestamping_leaf(leaf):
        return False
    pool = [_load_der(d) for d in response.signed_data.certificates]
    path = path_to_anchor(leaf, pool, anchors)
    when = _utc(response.tst_info.gen_time)
    if path is None or any(
        not c.not_valid_before_utc <= when <= c.not_valid_after_utc for c in path
    ):
        return False
    return _cms_signature_valid(response.time_stamp_token(), leaf)


def _timestamping_leaf(cert: x509.Certificate) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return False
    return ext.critical and list(ext.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def _cms_signature_valid(token: bytes, signer: x509.Certificate) -> bool:
    """The SignerInfo signature over the signed attributes, and their message digest over
    the TSTInfo (RFC 5652 §5.4)."""
    try:
        signed = cms.ContentInfo.load(token)["content"]
        info = signed["signer_infos"][0]
        digest = info["digest_algorithm"]["algorithm"].native
        content = signed["encap_content_info"]["content"].contents
        attrs = info["signed_attrs"]
        stated = next(a["values"][0].native for a in attrs if a["type"].native == "message_digest")
        if stated != hashlib.new(digest, content).digest():
            return False
        data = b"\x31" + attrs.dump()[1:]  # signed as a SET OF, not as [0]
        key = signer.public_key()
        algo = info["signature_algorithm"].signature_algo
        hash_alg = _HASH_CLASSES[digest]()
        signature = info["signature"].native
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, rsa.RSAPublicKey) and algo == "rsassa_pss":
            pss = padding.PSS(padding.MGF1(hash_alg), padding.PSS.AUTO)
            key.verify(signature, data, pss, hash_alg)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (ValueError, TypeError, KeyError, StopIteration, InvalidSignature):
        return False
    return True


def check_timestamp(
    parts: SignatureParts, *, tsa_anchors: Sequence[x509.Certificate]
) -> Timestamp | None:
    """Verify the first RFC 3161 timestamp of a signature.

    Parameters
    ----------
    parts
        The signature's pieces (:class:`~provenance.credentials._c2pa.SignatureParts`).
    tsa_anchors
        The TSA trust anchors: the C2PA TSA Trust List and the anchors given for TSAs.

    Returns
    -------
    Timestamp or None
        None when the signature carries no timestamp.

    Examples
    --------
    >>> Timestamp("2026-01-01T00:00:00Z", "Example TSA", True).to_dict()["trusted"]
    True
    """
    if not parts.tokens:
        return None
    version, value = parts.tokens[0]
    try:
        response = _decode(value)
        gen_time = response.tst_info.gen_time
        tsa = _common_name(_tsa_certificate(response))
    except (ValueError, TypeError):
        when, name = _lenient(value)
        return Timestamp(when, name, False, UNREADABLE if when is None else NOT_DER)
    when = _rfc3339(gen_time)
    stamped = countersign_data(parts, version)
    if stamped is None or not _imprint_matches(response, stamped):
        return Timestamp(when, tsa, False, MISMATCH)
    problem = _chain_problem(response, tsa_anchors)
    return Timestamp(when, tsa, problem is None, problem)


def signer_valid_at(signer_der: bytes, moment: str) -> bool | None:
    """Whether the signing certificate was valid at an RFC 3339 moment.

    Parameters
    ----------
    signer_der
        The signing certificate (DER).
    moment
        RFC 3339 UTC time, such as a timestamp's ``genTime``.

    Returns
    -------
    bool or None
        None when the certificate or the time cannot be read.
    """
    try:
        cert = x509.load_der_x509_certificate(signer_der)
        when = _utc(dt.datetime.fromisoformat(moment.replace("Z", "+00:00")))
    except ValueError:
        return None
    return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc
