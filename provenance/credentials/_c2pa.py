"""The only module that imports ``c2pa`` (c2pa-python).

Every SDK call goes through :func:`_translate`, which maps each ``C2paError`` subtype to a
:class:`~provenance.errors.ProvenanceError` with a stable code and a plain sentence (or to
"no manifest" / "remote manifest"). The rest of the library sees only plain data:
:class:`SdkStore` (the manifest store JSON, certificate details and the validation
state), :class:`SdkNoManifest` or an exception.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import io
import json
import os
import re
import threading
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID

from provenance.errors import (
    InputFileError,
    ManifestError,
    ProvenanceError,
    RemoteManifestError,
    SdkError,
)

__all__ = [
    "CertInfo",
    "SignatureParts",
    "carries_credentials",
    "SdkNoManifest",
    "SdkSession",
    "SdkStore",
    "SdkTrust",
    "read_store",
    "sdk_version",
    "supported_media_types",
]

_URL_RE = re.compile(r"(https?://\S+)")


@dataclass(frozen=True)
class SdkTrust:
    """Trust settings handed to the SDK for one read."""

    anchors_pem: str
    """All trust anchors (official lists, user anchors), concatenated PEM; may be empty."""
    trust_config: str
    """Accepted EKU OIDs, one per line (``//`` comments allowed)."""


@dataclass(frozen=True)
class CertInfo:
    """Certificate details of one manifest's signer (from the SDK's crJSON output)."""

    subject: Mapping[str, str]
    """Subject RDNs (``O``, ``CN``, ``OU``, ...)."""
    issuer: Mapping[str, str]
    """Issuing CA RDNs."""
    serial_number: str | None
    not_before: str | None
    not_after: str | None
    timestamp: str | None = None
    """Time from a verified RFC 3161 timestamp, if any."""
    timestamp_authority: str | None = None
    """Common name of the time-stamping authority."""


@dataclass(frozen=True)
class SignatureParts:
    """The pieces of one manifest's COSE signature that a timestamp check needs."""

    chain: tuple[bytes, ...]
    """``x5chain``: the signer's certificate first, then intermediates (DER)."""
    protected: bytes = field(repr=False)
    """The serialized protected header, as signed."""
    signature: bytes = field(repr=False)
    """The signature value."""
    claim: bytes | None = field(repr=False)
    """The claim (the signed, detached payload); None where it was not found."""
    tokens: tuple[tuple[int, bytes], ...] = ()
    """``(1, value)`` for ``sigTst`` (C2PA 1.x: a TimeStampResp), ``(2, value)`` for
    ``sigTst2`` (a TimeStampToken)."""


@dataclass(frozen=True)
class SdkStore:
    """A manifest store the SDK read and validated."""

    store: Mapping[str, Any]
    """``Reader.json()``: ``active_manifest``, ``manifests``, ``validation_results``, ..."""
    state: str
    """``Invalid`` | ``Valid`` | ``Trusted``."""
    certificates: Mapping[str, CertInfo] = field(default_factory=dict)
    """Signer details per manifest label."""
    remote_url: str | None = None
    """Remote manifest URL the asset refers to (when fetched with network allowed)."""
    embedded: bool = True
    fragment_results: tuple[Mapping[str, Any], ...] = ()
    """``validation_results`` after each fMP4 fragment, in order."""
    signatures: Mapping[str, SignatureParts] = field(default_factory=dict)
    """Signature pieces per manifest label (empty where the store could not be walked)."""


@dataclass(frozen=True)
class SdkNoManifest:
    """The SDK found no C2PA data (JUMBF) in the file."""

    detail: str


def sdk_version() -> str | None:
    """Return the native c2pa-rs version (``c2pa.sdk_version()``), or None if unknown."""
    try:
        return str(c2pa.sdk_version())
    except Exception:  # a version query must never break a report
        return None


@functools.cache
def supported_media_types() -> frozenset[str]:
    """Media types the installed SDK can read."""
    try:
        return frozenset(str(m) for m in c2pa.Reader.get_supported_mime_types())
    except Exception:
        return frozenset()


def _sdk_message(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _translate(exc: Exception, *, media_type: str | None) -> ProvenanceError | SdkNoManifest:
    """Map one SDK exception to an outcome with a plain sentence."""
    msg = _sdk_message(exc)
    low = msg.lower()
    detail = {"sdk_error": type(exc).__name__.lstrip("_"), "sdk_message": msg}
    if isinstance(exc, c2pa.C2paError.ManifestNotFound) or "no jumbf data found" in low:
        return SdkNoManifest(msg)
    if low.startswith("remote:") or isinstance(exc, c2pa.C2paError.RemoteManifest):
        m = _URL_RE.search(msg)
        url = m.group(1).rstrip(".,;)") if m else None
        if "must fetch" in low:
            return RemoteManifestError(
                f"The Content Credentials are stored remotely at {url or 'an unknown URL'}, "
                "not fetched (network access was not allowed).",
                url=url,
                code="remote_manifest_not_fetched",
                detail=detail,
            )
        return RemoteManifestError(
            f"The Content Credentials are stored remotely at {url or 'an unknown URL'}, "
            "but they could not be fetched.",
            url=url,
            code="remote_manifest_unavailable",
            detail=detail,
        )
    if isinstance(exc, c2pa.C2paError.NotSupported):
        kind = media_type or "this kind of file"
        return InputFileError(
            f"Content Credentials cannot be read from {kind} (format not supported).",
            code="unsupported_format",
            detail=detail,
        )
    if "prerelease" in low:
        return ManifestError(
            "The file carries a pre-release (draft) C2PA manifest that current validators "
            "do not accept.",
            code="malformed_manifest",
            detail=detail,
        )
    if "unknown algorithm" in low or "unsupported algorithm" in low:
        return ManifestError(
            "The credentials use a signing or hash algorithm that cannot be checked.",
            code="unknown_algorithm",
            detail=detail,
        )
    if "could not be parsed" in low or "could not parse" in low:
        return InputFileError(
            f"The file is damaged: {msg.split(':', 1)[-1].strip()}",
            code="corrupt",
            detail=detail,
        )
    if "jumbf" in low or isinstance(
        exc, (c2pa.C2paError.Verify, c2pa.C2paError.Decoding, c2pa.C2paError.Json)
    ):
        return ManifestError(
            f"The C2PA manifest store is malformed and cannot be read ({msg}).",
            code="malformed_manifest",
            detail=detail,
        )
    if isinstance(exc, (c2pa.C2paError.Io, c2pa.C2paError.FileNotFound)):
        return InputFileError(f"The file could not be read ({msg}).", code="corrupt", detail=detail)
    return SdkError(f"The C2PA library failed: {msg}", detail=detail)


def _context(trust: SdkTrust, *, allow_network: bool) -> Any:
    trust_settings: dict[str, str] = {"trust_config": trust.trust_config}
    if trust.anchors_pem.strip():
        trust_settings["trust_anchors"] = trust.anchors_pem
    settings: dict[str, Any] = {
        "trust": trust_settings,
        "verify": {
            "remote_manifest_fetch": allow_network,
            "ocsp_fetch": allow_network,
            "verify_trust": True,
            "verify_after_reading": True,
        },
    }
    if not allow_network:
        # Offline means no socket at all: an empty host allow-list blocks every fetch of
        # the SDK's own resolver, CAWG identity (did:web) resolution included; checked by
        # tests/conformance/test_offline.py with strace over every shared fixture.
        settings["core"] = {"allowed_network_hosts": []}
    return c2pa.Context.from_dict(settings)


class SdkSession:
    """Reader contexts for one trust configuration, built on first use and kept.

    A c2pa-python 0.38 ``Context`` is immutable once built and only lends its settings to
    each ``Reader`` (``c2pa_reader_from_context`` under a shared, non-mutating guard; the
    library's own default Context is shared the same way), so Readers may share one, also
    across threads. Building one parses every trust anchor, which is what keeping it
    saves. A forked child builds its own; a Context the SDK no longer reports valid is
    replaced. A :class:`provenance.check.Checker` holds one session.
    """

    def __init__(self, trust: SdkTrust) -> None:
        self.trust: Final = trust
        self._contexts: dict[tuple[int, bool], Any] = {}
        self._lock = threading.Lock()

    def context(self, *, allow_network: bool) -> Any:
        """The reader Context for these settings (built once per process)."""
        key = (os.getpid(), allow_network)
        with self._lock:
            ctx = self._contexts.get(key)
            if ctx is None or not ctx.is_valid:
                ctx = _context(self.trust, allow_network=allow_network)
                self._contexts[key] = ctx
        return ctx


def _rdns(obj: Any) -> dict[str, str]:
    if not isinstance(obj, Mapping):
        return {}
    return {str(k): str(v) for k, v in obj.items() if isinstance(v, (str, int))}


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _certificates(crjson_text: str) -> dict[str, CertInfo]:
    try:
        doc = json.loads(crjson_text)
    except ValueError:
        return {}
    out: dict[str, CertInfo] = {}
    manifests = doc.get("manifests") if isinstance(doc, Mapping) else None
    if not isinstance(manifests, list):
        return out
    for m in manifests:
        if not isinstance(m, Mapping) or not isinstance(m.get("label"), str):
            continue
        sig = m.get("signature")
        if not isinstance(sig, Mapping):
            continue
        ci = _as_map(sig.get("certificateInfo"))
        validity = _as_map(ci.get("validity"))
        ts = _as_map(sig.get("timeStampInfo"))
        ts_cert = _as_map(ts.get("certificateInfo"))
        out[m["label"]] = CertInfo(
            subject=_rdns(ci.get("subject")),
            issuer=_rdns(ci.get("issuer")),
            serial_number=str(ci["serialNumber"]) if ci.get("serialNumber") else None,
            not_before=validity.get("notBefore"),
            not_after=validity.get("notAfter"),
            timestamp=ts.get("timestamp") if isinstance(ts.get("timestamp"), str) else None,
            timestamp_authority=_rdns(ts_cert.get("subject")).get("CN"),
        )
    return out


# Signer certificates straight from the manifest store's COSE signatures. ``crjson()``
# gives the same facts but costs a second pass over the whole store (about as much as a
# tenth of the validation itself), so it is only the fallback.

_MAX_CBOR_DEPTH = 16


class _ParseError(ValueError):
    pass


def _jumbf_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, payload start, payload end) of the ISO BMFF-style boxes in a range."""
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise _ParseError("truncated box header")
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _ParseError("box overruns its parent")
        yield kind, pos + header, pos + size
        pos += size


def _jumbf_label(data: bytes, start: int, end: int) -> tuple[str | None, int]:
    """Label of a ``jumb`` superbox and where its content boxes start."""
    boxes = _jumbf_boxes(data, start, end)
    first = next(boxes, None)
    if first is None or first[0] != b"jumd":
        raise _ParseError("superbox without description box")
    _, d_start, d_end = first
    label = None
    if d_end - d_start > 17 and data[d_start + 16] & 0x02:
        stop = data.find(b"\x00", d_start + 17, d_end)
        if stop < 0:
            raise _ParseError("unterminated label")
        label = data[d_start + 17 : stop].decode("utf-8", errors="replace")
    return label, d_end


def _signature_boxes(store: bytes) -> dict[str, bytes]:
    """COSE signature bytes per manifest label, from a manifest store (JUMBF)."""
    return {label: cose for label, (cose, _claim) in _manifest_boxes(store).items()}


def _manifest_boxes(store: bytes) -> dict[str, tuple[bytes, bytes | None]]:
    """(COSE signature, claim) bytes per manifest label, from a manifest store (JUMBF)."""
    signatures: dict[str, bytes] = {}
    claims: dict[str, bytes] = {}
    for kind, start, end in _jumbf_boxes(store, 0, len(store)):
        if kind != b"jumb":
            continue
        label, content = _jumbf_label(store, start, end)
        if label != "c2pa":
            continue
        for m_kind, m_start, m_end in _jumbf_boxes(store, content, end):
            if m_kind != b"jumb":
                continue
            m_label, m_content = _jumbf_label(store, m_start, m_end)
            for c_kind, c_start, c_end in _jumbf_boxes(store, m_content, m_end):
                if c_kind != b"jumb":
                    continue
                c_label, c_content = _jumbf_label(store, c_start, c_end)
                if m_label is None or c_label not in ("c2pa.signature", *_CLAIM_LABELS):
                    continue
                target = signatures if c_label == "c2pa.signature" else claims
                for b_kind, b_start, b_end in _jumbf_boxes(store, c_content, c_end):
                    if b_kind == b"cbor":
                        target[m_label] = store[b_start:b_end]
    return {label: (cose, claims.get(label)) for label, cose in signatures.items()}


_CLAIM_LABELS: Final = ("c2pa.claim", "c2pa.claim.v2")


def _signature_parts(cose: bytes, claim: bytes | None) -> SignatureParts:
    """Split a COSE_Sign1 signature into what a timestamp check needs.

    Raises
    ------
    ValueError
        When the bytes are not a COSE_Sign1 structure with a certificate chain.
    """
    sign1, _ = _cbor(cose)
    if not isinstance(sign1, list) or len(sign1) != 4:
        raise _ParseError("not a COSE_Sign1 structure")
    protected_raw, unprotected, _payload, signature = sign1
    protected: Any = (
        _cbor(protected_raw)[0] if isinstance(protected_raw, bytes) and protected_raw else {}
    )
    headers = [h for h in (protected, unprotected) if isinstance(h, dict)]
    chain = next((h[k] for h in headers for k in (33, "x5chain") if k in h), None)
    ders = tuple(c for c in (chain if isinstance(chain, list) else [chain]) if isinstance(c, bytes))
    if not ders or not isinstance(signature, bytes):
        raise _ParseError("no x5chain or no signature")
    tokens: list[tuple[int, bytes]] = []
    for header in headers:
        for key, version in (("sigTst2", 2), ("sigTst", 1)):
            container = header.get(key)
            entries = container.get("tstTokens") if isinstance(container, dict) else None
            for entry in entries if isinstance(entries, list) else ():
                value = entry.get("val") if isinstance(entry, dict) else None
                if isinstance(value, bytes):
                    tokens.append((version, value))
    return SignatureParts(
        chain=ders,
        protected=protected_raw if isinstance(protected_raw, bytes) else b"",
        signature=signature,
        claim=claim,
        tokens=tuple(tokens),
    )


def _all_signature_parts(store_bytes: bytes) -> dict[str, SignatureParts]:
    """Signature pieces per manifest label; empty when the store cannot be walked."""
    out: dict[str, SignatureParts] = {}
    try:
        boxes = _manifest_boxes(store_bytes)
    except ValueError:
        return out
    for label, (cose, claim) in boxes.items():
        try:
            out[label] = _signature_parts(cose, claim)
        except (ValueError, TypeError, IndexError):
            continue  # that manifest's timestamp is reported as unreadable
    return out


def _cbor(data: bytes, pos: int = 0, depth: int = 0) -> tuple[Any, int]:
    """Decode one CBOR item (RFC 8949) at ``pos``; return (value, next position)."""
    if depth > _MAX_CBOR_DEPTH or pos >= len(data):
        raise _ParseError("CBOR too deep or truncated")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if info < 24:
        arg = info
    elif info <= 27:
        width = 1 << (info - 24)
        if pos + width > len(data):
            raise _ParseError("truncated CBOR argument")
        arg = int.from_bytes(data[pos : pos + width], "big")
        pos += width
    elif info == 31 and major in (2, 3, 4, 5):
        arg = -1  # indefinite length
    else:
        raise _ParseError("unsupported CBOR item")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        if arg < 0:
            chunks: list[Any] = []
            while pos < len(data) and data[pos] != 0xFF:
                chunk, pos = _cbor(data, pos, depth + 1)
                chunks.append(chunk)
            pos += 1
            return (b"" if major == 2 else "").join(chunks), pos
        if pos + arg > len(data):
            raise _ParseError("truncated CBOR string")
        raw = data[pos : pos + arg]
        return (bytes(raw) if major == 2 else raw.decode("utf-8", errors="replace")), pos + arg
    if major == 4:
        items: list[Any] = []
        while (arg < 0 and pos < len(data) and data[pos] != 0xFF) or len(items) < arg:
            item, pos = _cbor(data, pos, depth + 1)
            items.append(item)
        return items, pos + (1 if arg < 0 else 0)
    if major == 5:
        entries: dict[Any, Any] = {}
        count = 0
        while (arg < 0 and pos < len(data) and data[pos] != 0xFF) or count < arg:
            key, pos = _cbor(data, pos, depth + 1)
            value, pos = _cbor(data, pos, depth + 1)
            if isinstance(key, (list, dict)):
                raise _ParseError("unhashable CBOR map key")
            entries[key] = value
            count += 1
        return entries, pos + (1 if arg < 0 else 0)
    if major == 6:
        return _cbor(data, pos, depth + 1)  # the tag (18 for COSE_Sign1) is not needed
    if info in (20, 21, 22, 23):
        return {20: False, 21: True, 22: None, 23: None}[info], pos
    if info in (25, 26, 27):
        return None, pos  # floats: never part of a COSE header we read
    return None, pos


def _leaf_and_timestamp(cose: bytes) -> tuple[bytes, list[bytes]]:
    """The signer's certificate (DER) and the RFC 3161 timestamp tokens attached."""
    sign1, _ = _cbor(cose)
    if not isinstance(sign1, list) or len(sign1) != 4:
        raise _ParseError("not a COSE_Sign1 structure")
    protected_raw, unprotected = sign1[0], sign1[1]
    protected: Any = {}
    if isinstance(protected_raw, bytes) and protected_raw:
        protected, _ = _cbor(protected_raw)
    headers = [h for h in (protected, unprotected) if isinstance(h, dict)]
    chain = next((h[33] for h in headers if 33 in h), None)
    if chain is None:
        chain = next((h["x5chain"] for h in headers if "x5chain" in h), None)
    leaf = chain[0] if isinstance(chain, list) and chain else chain
    if not isinstance(leaf, bytes):
        raise _ParseError("no x5chain")
    tokens = []
    for header in headers:
        for key in ("sigTst2", "sigTst"):
            container = header.get(key)
            entries = container.get("tstTokens") if isinstance(container, dict) else None
            for entry in entries if isinstance(entries, list) else ():
                value = entry.get("val") if isinstance(entry, dict) else None
                if isinstance(value, bytes):
                    tokens.append(value)
    return leaf, tokens


def _der_children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield (tag, element start, content start, element end) of the DER elements in a range."""
    pos = start
    while pos + 2 <= end:
        tag, first = data[pos], data[pos + 1]
        content = pos + 2
        length = first
        if first & 0x80:
            count = first & 0x7F
            if count == 0 or count > 4 or content + count > end:
                raise _ParseError("unsupported DER length")
            length = int.from_bytes(data[content : content + count], "big")
            content += count
        if content + length > end:
            raise _ParseError("DER element overruns its parent")
        yield tag, pos, content, content + length
        pos = content + length


def _timestamp_token(value: bytes) -> bytes:
    """The TimeStampToken (CMS ContentInfo) inside a ``tstTokens`` value.

    C2PA 1.x signers stored the whole TimeStampResp (``PKIStatusInfo``, then the token).
    """
    outer = next(_der_children(value, 0, len(value)), None)
    if outer is None or outer[0] != 0x30:
        raise _ParseError("timestamp is not a DER sequence")
    children = list(_der_children(value, outer[2], outer[3]))
    if len(children) == 2 and children[0][0] == 0x30 and children[1][0] == 0x30:
        status = next(_der_children(value, children[0][2], children[0][3]), None)
        if status is not None and status[0] == 0x02:  # PKIStatusInfo starts with an INTEGER
            return value[children[1][1] : children[1][3]]
    return value


_TSA_NAMES: collections.OrderedDict[bytes, str | None] = collections.OrderedDict()
"""TSA common name per ``certificates`` field of a timestamp token: a batch meets the same
few time-stamping authorities again and again, each token otherwise parsed in full."""
_TSA_NAMES_SIZE: Final = 64
_TSA_NAMES_LOCK = threading.Lock()


def _token_certificates(token: bytes) -> bytes | None:
    """The raw ``certificates`` field of a CMS SignedData token; None where not found.

    A DER walk only (ContentInfo, ``[0]`` content, SignedData, its first ``[0]`` after
    the version, digest algorithms and encapsulated content).
    """
    try:
        outer = next(_der_children(token, 0, len(token)), None)
        if outer is None or outer[0] != 0x30:
            return None
        content = [c for c in _der_children(token, outer[2], outer[3]) if c[0] == 0xA0]
        if not content:
            return None
        signed = next(_der_children(token, content[0][2], content[0][3]), None)
        if signed is None or signed[0] != 0x30:
            return None
        for index, child in enumerate(_der_children(token, signed[2], signed[3])):
            if index >= 3 and child[0] == 0xA0:
                return token[child[1] : child[3]]
    except _ParseError:
        return None  # BER (indefinite lengths) and the like: parsed in full instead
    return None


def _tsa_name(value: bytes) -> str | None:
    """Common name of the time-stamping authority that signed a timestamp token.

    The TSA's certificate is the one with the (mandatory, RFC 3161) ``timeStamping`` EKU
    among the certificates the token carries. Remembered per set of certificates.

    Raises
    ------
    ValueError
        When the token or its certificates cannot be parsed here, or name no TSA (the
        caller then asks the SDK, whose parser is more lenient).
    """
    token = _timestamp_token(value)
    key = _token_certificates(token)
    if key is not None:
        with _TSA_NAMES_LOCK:
            if key in _TSA_NAMES:
                _TSA_NAMES.move_to_end(key)
                return _TSA_NAMES[key]
    name = _tsa_name_uncached(token)  # failures raise: never remembered
    if key is not None:
        with _TSA_NAMES_LOCK:
            _TSA_NAMES[key] = name
            while len(_TSA_NAMES) > _TSA_NAMES_SIZE:
                _TSA_NAMES.popitem(last=False)
    return name


def _tsa_name_uncached(token: bytes) -> str | None:

    with warnings.catch_warnings():
        # Tokens with unsorted certificate SETs (BER) parse, with a warning.
        warnings.simplefilter("ignore")
        certificates = pkcs7.load_der_pkcs7_certificates(token)
    for cert in certificates:
        try:
            usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.TIME_STAMPING in usage:
            return _name_rdns(cert.subject).get("CN")
    raise _ParseError("no time-stamping certificate in the token")


def _name_rdns(name: Any) -> dict[str, str]:
    """Named attributes as crJSON lists them (``CN``, ``O``, ...; bare OIDs left out)."""
    out: dict[str, str] = {}
    for attr in name:
        key, value = attr.rfc4514_attribute_name, attr.value
        if isinstance(value, str) and not key[:1].isdigit():
            out[key] = value
    return out


def _certificates_from_store(store_bytes: bytes, store: Mapping[str, Any]) -> dict[str, CertInfo]:
    """Signer details per manifest label, read from the COSE signatures.

    The timestamp is the one the SDK verified (``signature_info.time``; crJSON states the
    same, and no time for a token it did not accept).

    Raises
    ------
    ValueError
        When a signature cannot be read here: the caller falls back to crJSON.
    """
    manifests = _as_map(store.get("manifests"))
    signatures = _signature_boxes(store_bytes)
    out: dict[str, CertInfo] = {}
    for label, manifest in manifests.items():
        cose = signatures.get(label)
        if cose is None:
            raise _ParseError(f"no signature found for {label}")
        leaf, tokens = _leaf_and_timestamp(cose)
        cert = _cert_info(leaf)
        if tokens:
            time = _as_map(_as_map(manifest).get("signature_info")).get("time")
            cert = dataclasses.replace(
                cert,
                timestamp=time if isinstance(time, str) else None,
                timestamp_authority=_tsa_name(tokens[0]),
            )
        out[str(label)] = cert
    return out


@functools.lru_cache(maxsize=256)
def _cert_info(der: bytes) -> CertInfo:
    """Signer details of one DER certificate (cached: a batch meets the same signers often).

    Raises
    ------
    ValueError
        When the certificate cannot be parsed.
    """

    cert = x509.load_der_x509_certificate(der)
    return CertInfo(  # read-only views: the cached instance is shared
        subject=types.MappingProxyType(_name_rdns(cert.subject)),
        issuer=types.MappingProxyType(_name_rdns(cert.issuer)),
        serial_number=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
    )


def _signer_certificates(
    reader: Any, store: Mapping[str, Any]
) -> tuple[dict[str, CertInfo], dict[str, SignatureParts]]:
    """Signer details per manifest (from the COSE signatures, else from crJSON), and the
    signature pieces per manifest (empty when the store bytes cannot be had)."""
    active = store.get("active_manifest") if isinstance(store, Mapping) else None
    parts: dict[str, SignatureParts] = {}
    if isinstance(active, str):
        buffer = io.BytesIO()
        try:
            reader.resource_to_stream(f"self#jumbf=/c2pa/{active}", buffer)
            parts = _all_signature_parts(buffer.getvalue())
            return _certificates_from_store(buffer.getvalue(), store), parts
        except (c2pa.C2paError, ValueError, TypeError, KeyError, IndexError):
            pass  # anything unexpected in the bytes: let the SDK describe them
    try:
        return _certificates(reader.crjson()), parts
    except c2pa.C2paError:
        return {}, parts


def read_store(
    data: bytes,
    *,
    media_type: str,
    trust: SdkTrust | SdkSession,
    manifest: bytes | None = None,
    fragments: Sequence[bytes] = (),
    allow_network: bool = False,
) -> SdkStore | SdkNoManifest:
    """Read and validate the C2PA manifest store of a file held in memory.

    Parameters
    ----------
    data
        The asset's bytes (for fMP4: the init segment).
    media_type
        Sniffed media type, passed to the SDK as the format (never the file extension).
    trust
        Trust anchors and EKU configuration, or a session holding their reader contexts
        (a bare :class:`SdkTrust` builds a context for this read only).
    manifest
        A detached manifest store (``.c2pa`` sidecar) to validate against the asset.
    fragments
        fMP4 fragments, validated one by one with ``Reader.with_fragment``.
    allow_network
        Fetch remote manifests and OCSP responses.

    Returns
    -------
    SdkStore or SdkNoManifest
        The validated store, or the fact that the file carries no C2PA data.

    Raises
    ------
    ProvenanceError
        :class:`RemoteManifestError` (remote manifest not fetched), :class:`ManifestError`
        (malformed store, unknown algorithm), :class:`InputFileError` (unsupported or
        damaged file) or :class:`SdkError`.
    """
    try:
        if isinstance(trust, SdkSession):
            ctx = trust.context(allow_network=allow_network)
        else:
            ctx = _context(trust, allow_network=allow_network)
        reader = c2pa.Reader(media_type, io.BytesIO(data), manifest, ctx)
        with reader:
            fragment_results: list[Mapping[str, Any]] = []
            for frag in fragments:
                reader.with_fragment(media_type, io.BytesIO(data), io.BytesIO(frag))
                fragment_results.append(reader.get_validation_results() or {})
            # Parsed once: ``get_validation_state()`` would parse the same JSON again.
            store = json.loads(reader.json())
            state = str(store.get("validation_state") if isinstance(store, Mapping) else None)
            certs, parts = _signer_certificates(reader, store)
            remote = reader.get_remote_url()
            embedded = bool(reader.is_embedded())
    except c2pa.C2paError as exc:
        outcome = _translate(exc, media_type=media_type)
        if isinstance(outcome, SdkNoManifest):
            return outcome
        raise outcome from None
    except ValueError as exc:  # bad JSON from the SDK
        raise ManifestError(
            f"The C2PA library returned unreadable data: {exc}", code="malformed_manifest"
        ) from None
    except Exception as exc:  # the wrapper raising something undocumented
        raise SdkError(
            f"The C2PA library failed unexpectedly: {type(exc).__name__}: {exc}",
            detail={"sdk_error": type(exc).__name__},
        ) from exc
    if not isinstance(store, Mapping):
        raise ManifestError("The C2PA library returned an unexpected manifest store.")
    return SdkStore(
        store=store,
        state=state,
        certificates=certs,
        remote_url=str(remote) if remote else None,
        embedded=embedded,
        fragment_results=tuple(fragment_results),
        signatures=parts,
    )


def carries_credentials(data: bytes, *, media_type: str) -> bool:
    """Whether ``data`` carries Content Credentials of its own, valid or not.

    True for an embedded manifest store (even a damaged one) and for a reference to a
    remote manifest; False for a file without C2PA data or one the SDK cannot read.
    """
    try:
        outcome = read_store(data, media_type=media_type, trust=SdkTrust("", ""))
    except (ManifestError, RemoteManifestError):
        return True
    except ProvenanceError:
        return False
    return not isinstance(outcome, SdkNoManifest)


# ------------------------------------------------------------------------------ signing
# Everything the SDK needs to write Content Credentials, used by ``provenance.credentials.sign``.
# Signing errors are translated here (never echoing key material); the signer callback
# re-raises the external signer's own error instead of the SDK's "COSE signature invalid".

_PEM_BLOCK_RE = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(-----END [A-Z0-9 ]+-----|$)", re.DOTALL)
_LONG_B64_RE = re.compile(r"[A-Za-z0-9+/=]{48,}")
_FAILURE_LINE_RE = re.compile(
    r"^\s*([A-Za-z][\w.-]*\.[\w.-]+): (.*?)(?: \(self#jumbf=[^)]*\))?\s*$"
)


@dataclass(frozen=True)
class SdkSigner:
    """How the SDK gets its signature: a private key, or a callback (KMS, HSM, command)."""

    alg: str
    """C2PA algorithm name (``es256``, ``ps256``, ``ed25519``, ...)."""
    chain_pem: bytes
    """Signing certificate first, then intermediates."""
    key_pem: bytes | None = field(default=None, repr=False)
    """PKCS#8 PEM private key; None when ``callback`` signs."""
    callback: Callable[[bytes], bytes] | None = field(default=None, repr=False)
    """Returns the signature of the bytes it is given; None when ``key_pem`` signs."""
    tsa_url: str | None = None
    """RFC 3161 time-stamping authority; None for no timestamp."""


@dataclass(frozen=True)
class SdkIngredient:
    """One ingredient to add to a manifest before signing."""

    path: str | None
    """The ingredient file (its own manifest store, if any, is copied into the new file);
    None when ``data`` holds its content."""
    media_type: str
    """Its media type (given to the SDK as the format)."""
    ingredient: Mapping[str, Any]
    """Ingredient JSON: ``title``, ``relationship`` (``parentOf``/``componentOf``/
    ``inputTo``), optional ``instance_id``."""
    data: bytes | None = field(default=None, repr=False)
    """The ingredient's bytes, when not read from ``path``."""


@functools.cache
def builder_media_types() -> frozenset[str]:
    """Media types (``type/subtype``) the installed SDK can sign."""
    try:
        return frozenset(str(m) for m in c2pa.Builder.get_supported_mime_types() if "/" in str(m))
    except Exception:
        return frozenset()


def _scrub(message: str) -> str:
    """Drop anything that could be key material from an SDK message."""
    return _LONG_B64_RE.sub("[...]", _PEM_BLOCK_RE.sub("[PEM data]", message))


def _validation_failures(raw: str) -> list[tuple[str, str]]:
    """``(code, explanation)`` pairs from a verify-after-sign failure (one per line)."""
    _, _, tail = raw.partition("failures:")
    found = []
    for line in tail.splitlines():
        m = _FAILURE_LINE_RE.match(line)
        if m:
            found.append((m.group(1), _scrub(m.group(2).strip())))
    return found


def _sign_error(exc: Exception, *, signer: SdkSigner, media_type: str) -> ProvenanceError:
    """Translate a signing failure into a plain sentence with a stable code."""
    msg = _scrub(_sdk_message(exc))
    low = msg.lower()
    detail: dict[str, Any] = {"sdk_error": type(exc).__name__.lstrip("_"), "sdk_message": msg}
    if isinstance(exc, c2pa.C2paError.NotSupported) or "type is unsupported" in low:
        return InputFileError(
            f"Content Credentials cannot be written into {media_type} files with this SDK.",
            code="unsupported_format",
            detail=detail,
        )
    if "could not be parsed" in low or "could not parse" in low or "invalid riff" in low:
        return InputFileError(
            f"The file is damaged and cannot be signed: {msg.split(':', 1)[-1].strip()}",
            code="corrupt",
            detail=detail,
        )
    if "http resolver" in low or "time stamp" in low or "timestamp" in low:
        reason = re.search(r"(?:resolver|timestamp|time stamp)[^:]*: ([^()]+)", msg, re.I)
        return SdkError(
            f"The time-stamping authority {signer.tsa_url} could not be reached or gave no "
            f"timestamp ({(reason.group(1) if reason else msg).strip()}).",
            code="tsa_failed",
            detail=detail,
        )
    if "not valid at time of signing" in low:
        return SdkError(
            "The signing certificate is not valid now (expired or not yet valid).",
            code="cert_expired",
            detail=detail,
        )
    if "self-signed" in low or "self signed" in low:
        return SdkError(
            "The signing certificate is self-signed; sign with a certificate issued by a CA.",
            code="cert_self_signed",
            detail=detail,
        )
    if "certificate is invalid" in low:
        return SdkError(
            "The C2PA library rejected the signing certificate (it does not meet the C2PA "
            "certificate profile).",
            code="cert_invalid",
            detail=detail,
        )
    if "invalid signing credentials" in low:
        return SdkError(
            f"The private key cannot be used for {signer.alg} signing (wrong key type for the "
            "algorithm, or not a PKCS#8 key).",
            code="key_invalid",
            detail=detail,
        )
    if "does not match the provided data or public key" in low or "cose signature" in low:
        return SdkError(
            "The signature does not verify with the signing certificate's public key (wrong "
            "key for this certificate, or wrong algorithm).",
            code="signature_mismatch",
            detail=detail,
        )
    if isinstance(exc, c2pa.C2paError.Verify) or "failed validation" in low:
        failures = _validation_failures(str(exc))
        shown = "; ".join(f"{code}: {text}" for code, text in failures) or msg
        detail["codes"] = [code for code, _ in failures]
        return ManifestError(
            f"The new manifest would not validate: {shown}.", code="manifest_invalid", detail=detail
        )
    if "ingredientid" in low or "assertion" in low or "json" in low or "bad parameter" in low:
        return ManifestError(
            f"The manifest definition was refused: {msg.split(':', 1)[-1].strip()}",
            code="manifest_invalid",
            detail=detail,
        )
    return SdkError(f"Signing failed: {msg}", code="sign_failed", detail=detail)


def _builder_context(trust: SdkTrust | None) -> Any:
    settings: dict[str, Any] = {
        "verify": {
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
            "verify_after_sign": True,
            "verify_trust": trust is not None,
        }
    }
    if trust is not None:
        anchors: dict[str, str] = {"trust_config": trust.trust_config}
        if trust.anchors_pem.strip():
            anchors["trust_anchors"] = trust.anchors_pem
        settings["trust"] = anchors
    return c2pa.Context.from_dict(settings)


def sign_stream(
    source: BinaryIO,
    dest: BinaryIO,
    *,
    media_type: str,
    manifest: Mapping[str, Any],
    signer: SdkSigner,
    ingredients: Sequence[SdkIngredient] = (),
    trust: SdkTrust | None = None,
) -> bytes:
    """Sign ``source`` into ``dest`` (a read/write/seek stream); return the manifest store.

    Parameters
    ----------
    source, dest
        Binary streams; ``dest`` must be opened ``w+b`` (the SDK reads it back).
    media_type
        Sniffed media type of the source, given to the SDK as the format.
    manifest
        The manifest definition (C2PA manifest JSON as a dict).
    signer
        Key or callback, certificate chain, algorithm and TSA.
    ingredients
        Added in order before signing.
    trust
        The context the Builder uses to validate ingredients as they are added (their
        recorded status): give the anchors readers will use, or ingredients are recorded
        as untrusted.

    Returns
    -------
    bytes
        The manifest store that was embedded.

    Raises
    ------
    ProvenanceError
        :class:`InputFileError` (unsupported or damaged file), :class:`ManifestError`
        (the definition is refused, or the result would not validate), :class:`SdkError`
        (certificate, key, TSA); or whatever the signer callback raised.
    """
    callback_errors: list[BaseException] = []

    def _callback(data: bytes) -> bytes:
        assert signer.callback is not None
        try:
            return bytes(signer.callback(bytes(data)))
        except BaseException as exc:  # re-raised below: the SDK only logs it
            callback_errors.append(exc)
            raise

    sdk_signer = None
    try:
        if signer.callback is not None:
            sdk_signer = c2pa.Signer.from_callback(
                _callback,
                c2pa.C2paSigningAlg[signer.alg.upper()],
                signer.chain_pem.decode("ascii", "replace"),
                signer.tsa_url,
            )
        else:
            sdk_signer = c2pa.Signer.from_info(
                c2pa.C2paSignerInfo(signer.alg, signer.chain_pem, signer.key_pem, signer.tsa_url)
            )
        with _builder_context(trust) as ctx, c2pa.Builder(dict(manifest), context=ctx) as builder:
            for ing in ingredients:
                if ing.data is not None:
                    builder.add_ingredient(
                        dict(ing.ingredient), ing.media_type, io.BytesIO(ing.data)
                    )
                elif ing.path is not None:
                    with open(ing.path, "rb") as stream:
                        builder.add_ingredient(dict(ing.ingredient), ing.media_type, stream)
            return bytes(builder.sign(sdk_signer, media_type, source, dest))
    except c2pa.C2paError as exc:
        if callback_errors:
            first = callback_errors[0]
            if isinstance(first, ProvenanceError):
                raise first from None
            raise SdkError(
                f"The external signer failed: {type(first).__name__}",
                code="signer_failed",
            ) from None
        raise _sign_error(exc, signer=signer, media_type=media_type) from None
    finally:
        if sdk_signer is not None:
            sdk_signer.close()


def store_summary(store: bytes) -> Mapping[str, Any]:
    """Read a standalone manifest store (no asset) and return its JSON.

    Used after signing to learn the active manifest, the number of manifests (history)
    and the signature details; hashes are not checked (there is no asset).

    Parameters
    ----------
    store
        The manifest store bytes :func:`sign_stream` returned.

    Returns
    -------
    Mapping
        ``Reader.json()`` of the store; empty when it cannot be read.
    """
    try:
        with (
            c2pa.Context.from_dict(
                {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
            ) as ctx,
            c2pa.Reader("application/c2pa", io.BytesIO(store), None, ctx) as reader,
        ):
            data = json.loads(reader.json())
    except (c2pa.C2paError, ValueError):
        return {}
    return data if isinstance(data, Mapping) else {}
