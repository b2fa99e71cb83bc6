"""The report model shared by the library and the command line.

A :class:`Report` stores facts (what the SDK and our own checks found) and derives
judgements from them. Renderers never recompute a verdict: they read
:attr:`Report.verdict`, :attr:`Report.summary` and the sections.

``Report.to_dict()`` produces a JSON-ready record that validates against
``spec/report.schema.json`` (``"schema": "jinjja.report/v1"``). Changes inside v1 are
additive only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from provenance.codes import UNTRUSTED_CODES
from provenance.urls import redact_text, redact_url

__all__ = [
    "SCHEMA",
    "TRUST_ONLY_CODES",
    "Action",
    "AiLabel",
    "AiAssessment",
    "AiSignal",
    "BankMatch",
    "ContentHashes",
    "ChainNode",
    "Expiry",
    "Failure",
    "Issuer",
    "MetadataFact",
    "Recovery",
    "Report",
    "ReportError",
    "SignatureFacts",
    "Subject",
    "Timestamp",
    "ToolInfo",
    "TrustListUsed",
    "TrustSource",
    "Verdict",
    "WatermarkFinding",
]

SCHEMA = "jinjja.report/v1"

TRUST_ONLY_CODES: Final = UNTRUSTED_CODES | frozenset({"timeStamp.untrusted"})
"""Codes that only say a signer (or time-stamping authority) is on none of the configured
trust lists. They are reported, but they do not make a manifest unreliable."""


class Verdict(enum.StrEnum):
    """The provenance verdict for one file."""

    NO_CREDENTIALS = "NO_CREDENTIALS"
    """No Content Credentials were found (says nothing about authenticity)."""
    TRUSTED = "TRUSTED"
    """Signed, intact, and the issuer chains to a configured trust list."""
    VALID_UNTRUSTED = "VALID_UNTRUSTED"
    """Signed and intact, but the issuer is on no configured trust list."""
    INCOMPLETE = "INCOMPLETE"
    """The only problem is a hard-binding mismatch: the content changed after signing."""
    INVALID = "INVALID"
    """Forged or tampered manifest, bad signature, expired certificate without timestamp, ..."""
    RECOVERED = "RECOVERED"
    """Credentials were not embedded (or broken) but were recovered from a repository."""
    ERROR = "ERROR"
    """The file could not be read or analysed."""


class AiLabel(enum.StrEnum):
    """What the offline AI signals say about how the picture was made."""

    AI_GENERATED = "AI_GENERATED"
    AI_EDITED = "AI_EDITED"
    CAPTURED = "CAPTURED"
    UNKNOWN = "UNKNOWN"


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class Subject:
    """The file that was analysed."""

    path: str
    """Absolute path of the input as given."""
    size: int | None = None
    """Size in bytes, or None when the file could not be read."""
    sha256: str | None = None
    """Lowercase hex SHA-256 of the file bytes."""
    media_type: str | None = None
    """Media type sniffed from the content (not the extension)."""
    width: int | None = None
    """Pixel width, when the file is a picture or video."""
    height: int | None = None
    """Pixel height, when the file is a picture or video."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class Failure:
    """One validation problem, with the SDK's raw code and a plain sentence."""

    code: str
    """Raw C2PA status code (``assertion.dataHash.mismatch``) or one of ours."""
    message: str
    """A plain-language sentence for a journalist."""
    explanation: str | None = None
    """The SDK's own explanation, verbatim."""
    url: str | None = None
    """JUMBF URI of the assertion or claim the code is about."""
    manifest: str | None = None
    """Label of the manifest this failure belongs to (None: the active manifest)."""
    origin: str | None = None
    """``validation`` (found by the validator now) or ``ingredient_record`` (recorded in an
    ingredient assertion when that ingredient was added; not re-checked). None: unknown."""

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "code": self.code,
                "message": self.message,
                "explanation": self.explanation,
                "url": self.url,
                "manifest": self.manifest,
                "origin": self.origin,
            }
        )


@dataclass(frozen=True)
class Issuer:
    """Who issued a manifest: the signing certificate's subject and issuing CA."""

    organization: str | None = None
    common_name: str | None = None
    issuing_ca: str | None = None
    serial_number: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "organization": self.organization,
            "common_name": self.common_name,
            "issuing_ca": self.issuing_ca,
            "serial_number": self.serial_number,
        }


@dataclass(frozen=True)
class Action:
    """One recorded action (``c2pa.created``, ``c2pa.cropped``, ...)."""

    action: str
    """Raw action label."""
    label: str
    """The action in words ("Opened", "Cropped", "Published")."""
    software_agent: str | None = None
    digital_source_type: str | None = None
    """Full IPTC URI when present."""
    description: str | None = None
    when: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "action": self.action,
                "label": self.label,
                "software_agent": self.software_agent,
                "digital_source_type": self.digital_source_type,
                "description": self.description,
                "when": self.when,
            }
        )


@dataclass(frozen=True)
class Timestamp:
    """An RFC 3161 timestamp as Jinjja verified it (:mod:`provenance.credentials.timestamp`)."""

    time: str | None
    """``genTime`` (RFC 3339 UTC) as the token states it; None when unreadable."""
    tsa: str | None
    """Common name of the time-stamping authority."""
    trusted: bool
    """The token dates this signature and its TSA chains to a TSA anchor."""
    reason: str | None = None
    """Why it is not trusted (a plain phrase); None when trusted."""

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "tsa": self.tsa, "trusted": self.trusted, "reason": self.reason}


@dataclass(frozen=True)
class ChainNode:
    """One manifest in the provenance chain (the active one, or an ingredient's)."""

    label: str | None
    """Manifest label (``urn:c2pa:...``); None for an ingredient without credentials."""
    title: str | None
    format: str | None
    issuer: Issuer | None
    signing_time: str | None
    """RFC 3339 time: trusted timestamp when present, else the claimed time."""
    signing_time_source: str | None
    """``"timestamp"`` (RFC 3161, verified by the SDK), ``"claimed"`` or None."""
    claim_generator: str | None
    claim_generator_version: str | None
    actions: tuple[Action, ...] = ()
    relationship: str | None = None
    """``parentOf`` / ``componentOf`` / ``inputTo``; None for the active manifest."""
    failures: tuple[Failure, ...] = ()
    """This node's own validation failures (including ones recorded only in the ingredient),
    trust-only codes (:data:`TRUST_ONLY_CODES`) included."""
    ingredients: tuple[ChainNode, ...] = ()
    trusted: bool | None = None
    """Whether the validator found this manifest's signer on a configured trust list:
    True (``signingCredential.trusted``), False (``signingCredential.untrusted``), None
    when it did not judge it (no credentials; ingredients whose trust was not re-checked)."""
    timestamp: Timestamp | None = None
    """This manifest's RFC 3161 timestamp as Jinjja verified it; None without one."""

    @property
    def problems(self) -> tuple[Failure, ...]:
        """The failures that say the manifest did not validate (all but trust-only codes)."""
        return tuple(f for f in self.failures if f.code not in TRUST_ONLY_CODES)

    @property
    def reliable(self) -> bool:
        """False when this node failed validation: its claims are not to be relied on.

        An intact manifest from a signer on none of your trust lists is reliable (it was not
        tampered with); :attr:`trusted` says whether its issuer is known.
        """
        return not self.problems

    @property
    def unreliable_ingredients(self) -> tuple[ChainNode, ...]:
        """Ingredient nodes below this one, at any depth and in depth-first order, that
        failed validation (:attr:`reliable` is False)."""
        out: list[ChainNode] = []
        for child in self.ingredients:
            if not child.reliable:
                out.append(child)
            out.extend(child.unreliable_ingredients)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "title": self.title,
            "format": self.format,
            "issuer": self.issuer.to_dict() if self.issuer else None,
            "signing_time": self.signing_time,
            "signing_time_source": self.signing_time_source,
            "claim_generator": self.claim_generator,
            "claim_generator_version": self.claim_generator_version,
            "actions": [a.to_dict() for a in self.actions],
            "relationship": self.relationship,
            "reliable": self.reliable,
            "trusted": self.trusted,
            "failures": [f.to_dict() for f in self.failures],
            "ingredients": [i.to_dict() for i in self.ingredients],
            "ingredient_failures": len(self.unreliable_ingredients),
            "timestamp": self.timestamp.to_dict() if self.timestamp is not None else None,
        }


@dataclass(frozen=True)
class AiSignal:
    """One piece of evidence about AI generation or editing."""

    kind: str
    """Machine name: ``c2pa.digitalSourceType``, ``xmp.DigitalSourceType``, ``png.parameters``,
    ``exif.Software``, ``c2pa.softwareAgent``, ``c2pa.description``, ``watermark.SDXL``, ..."""
    value: str
    """What was found (prompts redacted unless asked for)."""
    source: str
    """Where it was found, in words (manifest label, XMP packet, PNG tEXt chunk, ...)."""
    signed: bool
    """True only when it sits inside a manifest that validated (not tampered)."""
    strength: str
    """``strong`` (declared) or ``weak`` (a hint)."""
    implies: AiLabel
    """Which label this signal alone would support."""
    detail: Mapping[str, Any] | None = None
    """Extra machine fields (bits matched, p-value, generator name, ...)."""

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "kind": self.kind,
                "value": self.value,
                "source": self.source,
                "signed": self.signed,
                "strength": self.strength,
                "implies": self.implies.value,
                "detail": dict(self.detail) if self.detail is not None else None,
            }
        )


@dataclass(frozen=True)
class AiAssessment:
    """The AI section: a label derived from the signals."""

    label: AiLabel
    signals: tuple[AiSignal, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label.value, "signals": [s.to_dict() for s in self.signals]}


@dataclass(frozen=True)
class TrustSource:
    """A trust list or anchor file used for the validation."""

    name: str
    """What it is ("C2PA trust list", "--trust-anchors demo-root.pem", ...)."""
    location: str
    """Path or URL it was read from."""
    sha256: str
    """SHA-256 of the PEM bundle as used."""
    certificates: int
    issued: str | None = None
    """Issue date of the list, when it states one."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "location": self.location,
            "sha256": self.sha256,
            "certificates": self.certificates,
            "issued": self.issued,
        }


@dataclass(frozen=True)
class ToolInfo:
    """Versions, trust sources and analysis time: what is needed to reproduce a report."""

    version: str
    c2pa_sdk: str | None
    trust_sources: tuple[TrustSource, ...]
    analyzed_at: str
    """RFC 3339 UTC."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": "jinjja",
            "version": self.version,
            "c2pa_sdk": self.c2pa_sdk,
            "trust_sources": [t.to_dict() for t in self.trust_sources],
            "analyzed_at": self.analyzed_at,
        }


@dataclass(frozen=True)
class ReportError:
    """Why a file could not be analysed."""

    code: str
    """Stable machine code (``unreadable``, ``empty_file``, ``unsupported_format``, ...)."""
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class WatermarkFinding:
    """A watermark looked for in the pixels (our own, or a soft-binding algorithm)."""

    algorithm: str
    found: bool
    payload_hex: str | None
    score: float
    p_value: float
    key_name: str | None = None
    detail: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "algorithm": self.algorithm,
                "found": self.found,
                "payload_hex": self.payload_hex,
                "score": self.score,
                "p_value": self.p_value,
                "key_name": self.key_name,
                "detail": dict(self.detail) if self.detail is not None else None,
            }
        )


@dataclass(frozen=True)
class BankMatch:
    """A match against a bank of known content."""

    bank: str
    entry_id: str
    distance: int
    band: str
    """``MATCH`` (distance ≤ 31) or ``REVIEW`` (32-52)."""
    variant: str
    """Which of the 8 rotations/flips of the query matched (``identity``, ``rot90``, ...)."""
    label: str | None = None
    case: str | None = None
    detail: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "bank": self.bank,
                "entry_id": self.entry_id,
                "distance": self.distance,
                "band": self.band,
                "variant": self.variant,
                "label": self.label,
                "case": self.case,
                "detail": dict(self.detail) if self.detail is not None else None,
            }
        )


@dataclass(frozen=True)
class ContentHashes:
    """The hashes a bank lookup of the file used, kept so ``verify bank rescan`` can match
    the report again after a bank gained entries, without the file and without decoding.

    Field names are those of ``jinjja.bank-match/v1`` records.
    """

    media: str
    """``picture`` or ``video``."""
    quality: int
    """PDQ quality (a video: the median over its hashable frames)."""
    pdq: str | None = None
    """Picture: its PDQ hash as it is (64 hex digits)."""
    pdq_variants: tuple[str, ...] = ()
    """Picture: the PDQ hashes of its 8 rotations/flips, in ``Variant`` order (the first
    is ``pdq``). They need the pixels to compute, hence all 8 are kept."""
    vpdq: str | None = None
    """Video: its vPDQ hash (pytx signal string), when the ``vpdq`` package was there."""
    md5: str | None = None
    """Video: the file's MD5 (an identical file matches a banked video)."""
    frames: int | None = None
    """Video: hashable frames searched."""

    def to_dict(self) -> dict[str, Any]:
        d = _drop_none(
            {
                "media": self.media,
                "quality": self.quality,
                "pdq": self.pdq,
                "vpdq": self.vpdq,
                "md5": self.md5,
                "frames": self.frames,
            }
        )
        if self.pdq_variants:
            d["pdq_variants"] = list(self.pdq_variants)
        return d


@dataclass(frozen=True)
class MetadataFact:
    """A metadata or structure fact: a sentence, never a verdict."""

    kind: str
    message: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return _drop_none({"kind": self.kind, "message": self.message, "value": self.value})


@dataclass(frozen=True)
class Recovery:
    """How stripped credentials were recovered from a repository, or why recovery failed."""

    method: str | None
    """``watermark`` or ``fingerprint``; None when recovery failed (``error``)."""
    manifest_id: str | None
    """The recovered manifest; None when recovery failed."""
    source: str
    """Repository path or resolver URL (credentials redacted)."""
    detail: Mapping[str, Any] = field(default_factory=dict)
    error: ReportError | None = None
    """Why the lookup failed: the resolver could not be reached or answered an error.
    Finding no match is not an error."""

    def to_dict(self) -> dict[str, Any]:
        d = {
            "method": self.method,
            "manifest_id": self.manifest_id,
            "source": self.source,
            "detail": dict(self.detail),
        }
        if self.error is not None:
            d["error"] = self.error.to_dict()
        return d


@dataclass(frozen=True)
class TrustListUsed:
    """The trust list a signer's chain reached: the list that decided it is trusted."""

    name: str
    issued: str | None
    bundled: bool = False
    """A snapshot shipped in the package (no ``verify trust update`` has run)."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "issued": self.issued, "bundled": self.bundled}


class Expiry(enum.StrEnum):
    """The signing certificate's validity, judged with the trusted signing time."""

    VALID = "valid"
    """Valid now."""
    EXPIRED_BEFORE_SIGNING = "expired_before_signing"
    """It had expired before the time a trusted timestamp gives for the signature."""
    EXPIRED_SINCE_SIGNING = "expired_since_signing"
    """It expired later: a trusted timestamp proves it was valid when signed."""
    EXPIRED_TIME_UNKNOWN = "expired_time_unknown"
    """It has expired and no trusted time says when the credentials were signed."""


@dataclass(frozen=True)
class SignatureFacts:
    """What Jinjja checks itself about the active manifest's signature."""

    timestamp: Timestamp | None = None
    trust_list: TrustListUsed | None = None
    certificate_expiry: Expiry | None = None
    not_after: str | None = None
    """End of the signing certificate's validity (RFC 3339)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp.to_dict() if self.timestamp is not None else None,
            "trust_list": self.trust_list.to_dict() if self.trust_list is not None else None,
            "certificate_expiry": (
                self.certificate_expiry.value if self.certificate_expiry is not None else None
            ),
            "not_after": self.not_after,
        }


@dataclass(frozen=True)
class Report:
    """Everything known about one file. ``to_dict()`` is the JSON record."""

    subject: Subject
    verdict: Verdict
    summary: tuple[str, ...]
    """Plain sentences, most important first."""
    chain: ChainNode | None
    failures: tuple[Failure, ...]
    """All failures (active manifest and ingredients), each with code and sentence."""
    ai: AiAssessment
    tool: ToolInfo
    error: ReportError | None = None
    remote_manifest_url: str | None = None
    """A remote (cloud) manifest reference, when the file has one."""
    watermarks: tuple[WatermarkFinding, ...] = ()
    matches: tuple[BankMatch, ...] = ()
    metadata: tuple[MetadataFact, ...] = ()
    recovery: Recovery | None = None
    signature: SignatureFacts | None = None
    """Our own checks of the active manifest's signature (timestamp, trust list, expiry)."""
    not_checked: tuple[str, ...] = ()
    """What was not checked because network access was not allowed."""
    hashes: ContentHashes | None = None
    """The hashes the bank lookup used (``--bank``), for ``verify bank rescan``."""

    notes: tuple[str, ...] = ()
    """Warnings and messages of the decoders that read the file (Pillow, libtiff, PyAV),
    one line each, instead of raw on stderr."""

    def __post_init__(self) -> None:
        # No credential in a URL ever reaches a renderer, a log or a stored record.
        redacted = tuple(redact_text(line) for line in self.summary)
        if redacted != self.summary:
            object.__setattr__(self, "summary", redacted)
        if self.remote_manifest_url is not None:
            object.__setattr__(self, "remote_manifest_url", redact_url(self.remote_manifest_url))
        if self.error is not None and redact_text(self.error.message) != self.error.message:
            error = ReportError(self.error.code, redact_text(self.error.message))
            object.__setattr__(self, "error", error)
        if self.recovery is not None and redact_url(self.recovery.source) != self.recovery.source:
            recovery = Recovery(
                self.recovery.method,
                self.recovery.manifest_id,
                redact_url(self.recovery.source),
                self.recovery.detail,
                self.recovery.error,
            )
            object.__setattr__(self, "recovery", recovery)

    @property
    def ok(self) -> bool:
        """True when the file was read and its credentials (if any) were not found invalid."""
        return self.verdict not in (Verdict.INVALID, Verdict.ERROR)

    @property
    def unreliable_ingredients(self) -> tuple[ChainNode, ...]:
        """Ingredients (at any depth) whose own validation failed, such as one recorded
        with ``claimSignature.mismatch`` when it was added. The verdict judges the active
        manifest; these nodes' claims are not to be relied on even when it is TRUSTED."""
        return self.chain.unreliable_ingredients if self.chain is not None else ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": SCHEMA,
            "subject": self.subject.to_dict(),
            "verdict": self.verdict.value,
            "summary": list(self.summary),
            "chain": self.chain.to_dict() if self.chain else None,
            "failures": [f.to_dict() for f in self.failures],
            "ai": self.ai.to_dict(),
            "tool": self.tool.to_dict(),
        }
        if self.error is not None:
            d["error"] = self.error.to_dict()
        if self.remote_manifest_url is not None:
            d["remote_manifest_url"] = self.remote_manifest_url
        if self.watermarks:
            d["watermarks"] = [w.to_dict() for w in self.watermarks]
        if self.matches:
            d["matches"] = [m.to_dict() for m in self.matches]
        if self.hashes is not None:
            d["hashes"] = self.hashes.to_dict()
        if self.metadata:
            d["metadata"] = [m.to_dict() for m in self.metadata]
        if self.recovery is not None:
            d["recovery"] = self.recovery.to_dict()
        if self.signature is not None:
            d["signature"] = self.signature.to_dict()
        if self.not_checked:
            d["not_checked"] = list(self.not_checked)
        if self.notes:
            d["notes"] = list(self.notes)
        return d
