"""``check()``: read a file's Content Credentials and turn them into a :class:`Report`.

The function never raises for a bad input file. Missing, unreadable, empty, damaged or
unsupported files, malformed manifests and unknown algorithms all come back as a report
with ``verdict=ERROR`` and a stable ``error.code``. Only bad *configuration* (a trust
anchor file that is missing or not PEM, a damaged trust store) raises
:class:`~provenance.errors.TrustStoreError`, before any file is looked at.

Verdict rules (facts -> judgement), applied to the failures the validator found now
(active manifest, fMP4 fragments and re-validated ingredient manifests):

* no C2PA data -> ``NO_CREDENTIALS``;
* no failure other than trust-only codes (:data:`~provenance.report.TRUST_ONLY_CODES`:
  untrusted signer or time-stamping authority) -> ``TRUSTED`` when the SDK's state is
  ``Trusted`` (the active signer chains to a configured anchor), else ``VALID_UNTRUSTED``;
* the only other failures are hard-binding mismatches -> ``INCOMPLETE``;
* anything else -> ``INVALID``.

Failures recorded inside an ingredient assertion when that ingredient was added are not
re-checked by the SDK; they do not change the verdict, but they are listed in
``failures``, mark their node unreliable and get a summary sentence.

Trust-only codes are listed in ``failures`` too, but they never make a node unreliable:
an intact manifest from an unknown signer validated (``ChainNode.trusted`` is False), and
the AI declarations inside it count as signed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509

from provenance._clock import utc_text
from provenance._version import __version__
from provenance.codes import HARD_BINDING_MISMATCH_CODES, UNTRUSTED_CODES
from provenance.credentials.chain import ChainResult, build_chain, iter_nodes
from provenance.credentials.signature import AnchorList, assess, with_timestamps
from provenance.credentials.trust import (
    TrustStore,
    default_data_dir,
    eku_config,
    load,
    load_pem_bundle,
)
from provenance.errors import (
    InputFileError,
    ProvenanceError,
    RemoteManifestError,
    TrustStoreError,
    error_record,
)
from provenance.media.inspect import (
    FRAGMENT_MEDIA_TYPE,
    MediaInfo,
    inspect_bytes,
    partial_info,
    read_file,
    remote_manifest_reference,
    sniff_media_type,
)
from provenance.report import (
    TRUST_ONLY_CODES,
    AiAssessment,
    AiLabel,
    AiSignal,
    ChainNode,
    Failure,
    Report,
    ReportError,
    Subject,
    ToolInfo,
    TrustSource,
    Verdict,
)
from provenance.signals.ai import assess_ai

if TYPE_CHECKING:
    from provenance.credentials import _c2pa
    from provenance.matching.bank import Bank
    from provenance.signals.genmarks import GeneratorMark

__all__ = ["CheckOptions", "Checker", "check", "check_bytes", "derive_verdict"]

_MEDIA_EXTENSIONS: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".mp4", ".mov", ".heic"}
)


@dataclass(frozen=True)
class _Trust:
    sdk: _c2pa.SdkSession
    sources: tuple[TrustSource, ...]
    signer_lists: tuple[AnchorList, ...] = ()
    """Claim-signer anchor lists, parsed, in order (for naming the list that decided)."""
    tsa_anchors: tuple[x509.Certificate, ...] = ()
    """TSA trust anchors (the C2PA TSA Trust List, ``tsa_anchors`` files)."""


def _anchor_lists(store: TrustStore, role: str) -> list[AnchorList]:
    out = []
    for stored in store.anchor_lists(role):
        certs = x509.load_pem_x509_certificates(stored.path.read_bytes())
        out.append(AnchorList(stored.name, stored.issued, tuple(certs), stored.bundled))
    return out


def _read_anchor_file(path: Path, option: str) -> tuple[bytes, list[bytes]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrustStoreError(
            f"Cannot read {option} {path}: {exc.strerror or exc}",
            code="trust_anchors_unreadable",
        ) from None
    return raw, load_pem_bundle(raw, origin=str(path))


def _anchor_source(name: str, path: Path, raw: bytes, count: int) -> TrustSource:
    return TrustSource(
        name=name,
        location=str(path.resolve()),
        sha256=hashlib.sha256(raw).hexdigest(),
        certificates=count,
    )


def _load_trust(
    store: TrustStore,
    trust_anchors: Sequence[str | os.PathLike[str]],
    tsa_files: Sequence[str | os.PathLike[str]] = (),
) -> _Trust:
    parts: list[str] = []
    sources: list[TrustSource] = []
    signer_lists = _anchor_lists(store, "signers")
    tsa_anchors = [c for a in _anchor_lists(store, "tsa") for c in a.certificates]
    if not store.empty:
        parts.append(store.anchors_pem())
        sources.extend(store.sources())
    for anchor in trust_anchors:
        p = Path(anchor)
        raw, ders = _read_anchor_file(p, "trust anchors")
        certs = tuple(x509.load_der_x509_certificate(d) for d in ders)
        signer_lists.append(AnchorList(f"--trust-anchors {p.name}", None, certs, stored=False))
        parts.append(raw.decode("utf-8", errors="replace"))
        sources.append(_anchor_source(f"--trust-anchors {p.name}", p, raw, len(ders)))
    for tsa_file in tsa_files:
        p = Path(tsa_file)
        raw, ders = _read_anchor_file(p, "--tsa-anchors")
        tsa_anchors.extend(x509.load_der_x509_certificate(d) for d in ders)
        sources.append(_anchor_source(f"--tsa-anchors {p.name}", p, raw, len(ders)))
    eku = eku_config()
    sources.append(
        TrustSource(
            name="EKU configuration (built in)",
            location="provenance/data/eku.cfg",
            sha256=hashlib.sha256(eku.encode("utf-8")).hexdigest(),
            certificates=0,
        )
    )
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    sdk = _c2pa.SdkSession(_c2pa.SdkTrust("\n".join(parts), eku))
    return _Trust(sdk, tuple(sources), tuple(signer_lists), tuple(tsa_anchors))


def _tool(trust: _Trust | None, analyzed_at: str) -> ToolInfo:
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    return ToolInfo(
        version=__version__,
        c2pa_sdk=_c2pa.sdk_version(),
        trust_sources=trust.sources if trust is not None else (),
        analyzed_at=analyzed_at,
    )


def _subject(path: str, info: MediaInfo | None) -> Subject:
    if info is None:
        return Subject(path=path)
    return Subject(
        path=path,
        size=info.size,
        sha256=info.sha256,
        media_type=info.media_type,
        width=info.width,
        height=info.height,
    )


def _error_report(
    subject: Subject,
    error: ProvenanceError,
    tool: ToolInfo,
    *,
    remote_url: str | None = None,
) -> Report:
    record = error_record(error)
    return Report(
        subject=subject,
        verdict=Verdict.ERROR,
        summary=(record.message,),
        chain=None,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN),
        tool=tool,
        error=ReportError(record.code, record.message),
        remote_manifest_url=remote_url,
    )


def derive_verdict(state: str, validated: Sequence[Failure]) -> Verdict:
    """Derive the verdict from the SDK's validation state and the current failures.

    Parameters
    ----------
    state
        ``Trusted``, ``Valid`` or ``Invalid`` (c2pa-rs ``validation_state``).
    validated
        Failures the validator found now (active manifest, fragments, ingredient deltas);
        not the failures recorded inside ingredient assertions.

    Returns
    -------
    Verdict
        ``TRUSTED``, ``VALID_UNTRUSTED``, ``INCOMPLETE`` or ``INVALID``.

    Examples
    --------
    >>> from provenance.report import Failure
    >>> derive_verdict("Valid", [Failure("signingCredential.untrusted", "...")]).value
    'VALID_UNTRUSTED'
    >>> derive_verdict("Invalid", [Failure("assertion.dataHash.mismatch", "...")]).value
    'INCOMPLETE'
    """
    serious = {f.code for f in validated} - TRUST_ONLY_CODES
    if serious:
        if serious <= HARD_BINDING_MISMATCH_CODES:
            return Verdict.INCOMPLETE
        return Verdict.INVALID
    if state == "Trusted":
        return Verdict.TRUSTED
    if state == "Invalid":
        # The SDK says invalid without giving a code (e.g. validation switched off).
        return Verdict.INVALID
    return Verdict.VALID_UNTRUSTED


_VERDICT_SENTENCE: Final = {
    Verdict.TRUSTED: (
        "Content Credentials are intact and were issued by a signer on a trust list you use."
    ),
    Verdict.VALID_UNTRUSTED: (
        "Content Credentials are intact, but the signer is not on any trust list you "
        "configured: the issuer's identity is unconfirmed."
    ),
    Verdict.INCOMPLETE: (
        "Content Credentials are present, but the content changed after signing "
        "(edit, re-encode or metadata change); the credentials describe an earlier version."
    ),
    Verdict.INVALID: (
        "Content Credentials are invalid: anyone could have changed this file's "
        "provenance information. Do not rely on the claims below."
    ),
}

_BROKEN_INGREDIENT_SENTENCE: Final = {
    Verdict.TRUSTED: (
        "This version's Content Credentials are intact and were issued by a signer on a "
        "trust list you use, but {which} failed validation: {its} claims are not to be "
        "relied on."
    ),
    Verdict.VALID_UNTRUSTED: (
        "This version's Content Credentials are intact, but the signer is not on any trust "
        "list you configured (the issuer's identity is unconfirmed), and {which} failed "
        "validation: {its} claims are not to be relied on."
    ),
}
"""The first sentence when the active manifest validated but an ingredient did not."""

_AI_SENTENCE: Final = {
    AiLabel.AI_GENERATED: "AI: declared or detected as AI-generated.",
    AiLabel.AI_EDITED: "AI: declared or detected as edited with AI.",
    AiLabel.CAPTURED: "AI: declared as captured by a camera or recorder (no AI generation).",
}


def _issuer_text(node: ChainNode) -> str | None:
    issuer = node.issuer
    if issuer is None:
        return None
    who = issuer.organization or issuer.common_name
    if who is None:
        return None
    if issuer.common_name and issuer.organization and issuer.common_name != issuer.organization:
        who = f"{issuer.organization} ({issuer.common_name})"
    if issuer.issuing_ca:
        who += f", certificate from {issuer.issuing_ca}"
    return who


def _summary(
    verdict: Verdict,
    chain: ChainResult,
    ai: AiAssessment,
    *,
    extra: Sequence[str] = (),
    timestamp_notes: Sequence[str] = (),
) -> tuple[str, ...]:
    root = chain.root
    lines = [_VERDICT_SENTENCE[verdict]]
    broken = len(root.unreliable_ingredients)
    if broken and verdict in _BROKEN_INGREDIENT_SENTENCE:
        which = "an ingredient" if broken == 1 else f"{broken} ingredients"
        its = "its" if broken == 1 else "their"
        lines = [_BROKEN_INGREDIENT_SENTENCE[verdict].format(which=which, its=its)]
    who = _issuer_text(root)
    if who:
        lines.append(f"Issued by {who}.")
    if root.signing_time:
        if root.signing_time_source != "timestamp":
            how = "claimed by the signer, not proven"
        elif timestamp_notes:
            how = "timestamped, but " + "; ".join(timestamp_notes)
        else:
            how = "proven by a timestamp"
        lines.append(f"Issued on {root.signing_time} ({how}).")
    if root.claim_generator:
        tool = root.claim_generator
        if root.claim_generator_version:
            tool += f" {root.claim_generator_version}"
        lines.append(f"Made with {tool}.")
    ai_line = _AI_SENTENCE.get(ai.label)
    if ai_line:
        lines.append(ai_line)
    for f in chain.validated:
        if f.code in UNTRUSTED_CODES:
            continue
        where = "" if f.manifest is None else " (in an earlier version)"
        lines.append(f"Problem{where}: {f.message} [{f.code}]")
    for f in chain.recorded:
        title = next(
            (
                n.title
                for n in iter_nodes(root)
                if n.label is not None and n.label == f.manifest and n.title
            ),
            None,
        )
        named = f' "{title}"' if title else ""
        lines.append(
            f"An earlier version{named} was already recorded as broken when it was used: "
            f"{f.message} [{f.code}]"
        )
    lines.extend(extra)
    return tuple(lines)


def _assess_ai(
    data: bytes,
    media_type: str | None,
    chain: ChainNode | None,
    *,
    show_prompts: bool,
    marks: Sequence[GeneratorMark] = (),
) -> AiAssessment:
    """The AI section; a failure inside the AI collectors must not lose the report."""
    try:
        return assess_ai(data, media_type, chain, show_prompts=show_prompts, marks=marks)
    except Exception as exc:  # contract: check() never raises for a file
        return AiAssessment(
            AiLabel.UNKNOWN,
            (
                AiSignal(
                    kind="jinjja.error",
                    value=f"AI signals could not be collected: {type(exc).__name__}: {exc}",
                    source="jinjja",
                    signed=False,
                    strength="weak",
                    implies=AiLabel.UNKNOWN,
                ),
            ),
        )


_TIMESTAMP_DOUBTS: Final = {
    "timeStamp.untrusted": "the time-stamping authority is not on your trust lists",
    "timeStamp.mismatch": "the timestamp does not match the signature",
    "timeStamp.malformed": "the timestamp could not be read",
    "timeStamp.outsideValidity": "the timestamp was issued outside its certificate's validity",
}


def _timestamp_notes(store: Mapping[str, Any]) -> list[str]:
    """Doubts about the active manifest's timestamp (informational codes)."""
    results = store.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, Mapping) else None
    info = active.get("informational") if isinstance(active, Mapping) else None
    notes: list[str] = []
    for entry in info if isinstance(info, list) else []:
        code = entry.get("code") if isinstance(entry, Mapping) else None
        note = _TIMESTAMP_DOUBTS.get(code) if isinstance(code, str) else None
        if note is not None and note not in notes:
            notes.append(note)
    success = active.get("success") if isinstance(active, Mapping) else None
    for entry in success if isinstance(success, list) else []:
        if not isinstance(entry, Mapping) or entry.get("code") != "timeStamp.trusted":
            continue
        explanation = entry.get("explanation")
        if isinstance(explanation, str) and "legacy" in explanation.lower():
            # c2pa-rs does not check the TSA of C2PA 1.x manifests against trust lists.
            note = "the time-stamping authority of this older (1.x) manifest was not checked"
            if note not in notes:
                notes.append(note)
    return notes


def _fragment_failures(results: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for vr in results:
        active = vr.get("activeManifest") if isinstance(vr, Mapping) else None
        failed = active.get("failure") if isinstance(active, Mapping) else None
        if isinstance(failed, list):
            out.extend(e for e in failed if isinstance(e, Mapping))
    return out


def _unsupported_message(media_type: str | None, name: str | None) -> InputFileError:
    if media_type == FRAGMENT_MEDIA_TYPE:
        return InputFileError(
            "This is a media segment (fragmented MP4 .m4s) that cannot be checked alone; "
            "check its init segment and pass the segments as fragments.",
            code="unsupported_format",
        )
    suffix = Path(name).suffix.lower() if name else ""
    if media_type is None:
        hint = f" although it is named {suffix}" if suffix in _MEDIA_EXTENSIONS else ""
        return InputFileError(
            f"The content is not a picture, video or other format we can read{hint}.",
            code="unsupported_format",
        )
    return InputFileError(
        f"Content Credentials cannot be read from {media_type} files.",
        code="unsupported_format",
    )


@dataclass(frozen=True)
class _Job:
    """One check in progress: the content, where it came from and how to read it."""

    data: bytes
    subject: Subject
    name: str | None
    media_type: str
    trust: _Trust
    tool: ToolInfo
    manifest: bytes | None
    fragments: Sequence[bytes]
    allow_network: bool
    show_prompts: bool
    marks: Sequence[GeneratorMark]

    def ai(self, chain: ChainNode | None) -> AiAssessment:
        return _assess_ai(
            self.data, self.media_type, chain, show_prompts=self.show_prompts, marks=self.marks
        )


def _check_data(
    data: bytes,
    *,
    subject_path: str,
    name: str | None,
    trust: _Trust,
    tool: ToolInfo,
    manifest: bytes | None,
    fragments: Sequence[bytes],
    allow_network: bool,
    show_prompts: bool,
    marks: Sequence[GeneratorMark] = (),
) -> Report:
    """Sniff the content, read its manifest store with the SDK and build the report."""
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    try:
        info = inspect_bytes(data, name=name)
    except InputFileError as exc:
        return _error_report(_subject(subject_path, partial_info(data, name=name)), exc, tool)
    subject = _subject(subject_path, info)
    media_type = info.media_type
    if (
        media_type is None
        or media_type == FRAGMENT_MEDIA_TYPE
        or media_type not in _c2pa.supported_media_types()
    ):
        return _error_report(subject, _unsupported_message(media_type, name), tool)
    job = _Job(
        data,
        subject,
        name,
        media_type,
        trust,
        tool,
        manifest,
        fragments,
        allow_network,
        show_prompts,
        marks,
    )
    try:
        outcome = _c2pa.read_store(
            data,
            media_type=media_type,
            trust=trust.sdk,
            manifest=manifest,
            fragments=fragments,
            allow_network=allow_network,
        )
    except RemoteManifestError as exc:
        return _remote_report(job, exc)
    except ProvenanceError as exc:
        return _error_report(subject, exc, tool)
    if isinstance(outcome, _c2pa.SdkNoManifest):
        return _no_credentials_report(job)
    return _store_report(job, outcome)


def _with_ai_line(lines: list[str], ai: AiAssessment) -> tuple[str, ...]:
    ai_line = _AI_SENTENCE.get(ai.label)
    return tuple([*lines, ai_line] if ai_line else lines)


def _remote_report(job: _Job, exc: RemoteManifestError) -> Report:
    """The report of a file whose manifest lives at a URL (not fetched, or failed)."""
    if exc.url is None:
        url = remote_manifest_reference(job.data)
        if url is not None:
            exc = RemoteManifestError(
                exc.message.replace("an unknown URL", url),
                url=url,
                code=exc.code,
                detail=exc.detail,
            )
    if exc.code != "remote_manifest_not_fetched":
        return _error_report(job.subject, exc, job.tool, remote_url=exc.url)
    lines = [
        f"Remote manifest at {exc.url or 'an unknown URL'}, not fetched "
        "(network access was not allowed).",
        "No Content Credentials are embedded in the file itself.",
    ]
    return _no_credentials_report(
        job, lines, error=ReportError(exc.code, exc.message), remote_manifest_url=exc.url
    )


_NO_CREDENTIALS: Final = (
    "No Content Credentials found. This is common after upload to social media "
    "or messaging apps and says nothing about whether the content is authentic."
)


def _no_credentials_report(
    job: _Job,
    lines: Sequence[str] = (_NO_CREDENTIALS,),
    *,
    error: ReportError | None = None,
    remote_manifest_url: str | None = None,
) -> Report:
    ai = job.ai(None)
    return Report(
        subject=job.subject,
        verdict=Verdict.NO_CREDENTIALS,
        summary=_with_ai_line(list(lines), ai),
        chain=None,
        failures=(),
        ai=ai,
        tool=job.tool,
        error=error,
        remote_manifest_url=remote_manifest_url,
    )


def _store_report(job: _Job, outcome: _c2pa.SdkStore) -> Report:
    """The report of a file with a manifest store the SDK validated, judged with our own
    checks of the active signature first (:func:`provenance.credentials.signature.assess`)."""
    judged = assess(
        outcome,
        signer_lists=job.trust.signer_lists,
        tsa_anchors=job.trust.tsa_anchors,
        now=_parse_utc(job.tool.analyzed_at),
        allow_network=job.allow_network,
    )
    chain = build_chain(
        judged.store,
        outcome.certificates,
        extra_validation=_fragment_failures(outcome.fragment_results),
        active_format=job.media_type,
    )
    if chain is None:
        problem = ProvenanceError(
            "The manifest store names no active manifest.", code="malformed_manifest"
        )
        return _error_report(job.subject, problem, job.tool)
    verdict = derive_verdict(judged.state, chain.validated)
    ai = job.ai(chain.root)
    notes = list(judged.timestamp_notes) if judged.facts is not None else None
    summary = _summary(
        verdict,
        chain,
        ai,
        extra=[*_context_lines(job, outcome), *judged.lines],
        timestamp_notes=notes if notes is not None else _timestamp_notes(outcome.store),
    )
    return Report(
        subject=job.subject,
        verdict=verdict,
        summary=summary,
        chain=with_timestamps(chain.root, outcome, job.trust.tsa_anchors),
        failures=chain.validated + chain.recorded,
        ai=ai,
        tool=job.tool,
        remote_manifest_url=outcome.remote_url,
        signature=judged.facts,
        not_checked=judged.not_checked,
    )


def _parse_utc(text: str) -> dt.datetime:
    """``tool.analyzed_at`` (RFC 3339 UTC) as an aware datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _context_lines(job: _Job, outcome: _c2pa.SdkStore) -> list[str]:
    """Summary sentences about how the credentials were read."""
    extra = []
    if job.media_type == "application/c2pa" and job.manifest is None:
        extra.append(
            "This file is a detached manifest store checked on its own: the content it "
            "describes is not here, so its hard binding cannot match. Check the asset "
            "with this file as its manifest instead."
        )
    if job.manifest is not None:
        extra.append("The credentials were read from a separate manifest file.")
    if job.fragments:
        extra.append(f"{len(job.fragments)} video fragment(s) were checked with the init segment.")
    if outcome.remote_url:
        extra.append(f"The credentials were fetched from {outcome.remote_url}.")
    return extra


_Source = str | os.PathLike[str] | bytes | bytearray | memoryview


def _paths(value: Any) -> tuple[Any, ...]:
    """A tuple from a sequence option; one path (or bytes) given alone becomes a 1-tuple."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes, os.PathLike)):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class CheckOptions:
    """Every option of a check, fixed once for a :class:`Checker` (picklable when the
    banks are given as paths).

    Sequences given as lists (or one path alone) are stored as tuples.
    """

    trust_anchors: tuple[str | os.PathLike[str], ...] = ()
    """PEM files whose certificates are trusted in addition to the stored trust lists."""
    manifest: str | os.PathLike[str] | bytes | None = None
    """A detached manifest store (``.c2pa``; a path or its bytes) validated with the file."""
    fragments: tuple[str | os.PathLike[str] | bytes, ...] = ()
    """fMP4 fragments (``.m4s``; paths or bytes) validated with the file as init segment."""
    allow_network: bool = False
    """Fetch remote (cloud) manifests and OCSP responses. Off: a remote manifest is
    reported as "not fetched" with ``remote_manifest_url`` set."""
    show_prompts: bool = False
    """Show generator prompts found in the file (redacted by default)."""
    analyzed_at: dt.datetime | None = None
    """Pin ``tool.analyzed_at`` (naive datetimes are taken as UTC); None: the time of
    each check."""
    data_dir: str | os.PathLike[str] | None = None
    """Where stored trust lists live; default
    :func:`provenance.credentials.trust.default_data_dir`. When ``verify trust update``
    never stored lists there, the snapshots shipped in the package are used."""
    banks: tuple[Bank | str | os.PathLike[str], ...] = ()
    """Banks of known content (:class:`provenance.matching.bank.Bank` objects, or paths
    opened by the :class:`Checker`); matches go to ``matches``."""
    metadata: bool = False
    """Add metadata and structure facts (:func:`provenance.signals.metadata.metadata_facts`)."""
    show_gps: bool = False
    """Show GPS coordinates in the metadata facts (implies ``metadata``)."""
    generator_marks: bool = False
    """Decode the pixels and look for the default invisible watermarks of open image
    generators (:mod:`provenance.signals.genmarks`)."""
    repo: str | os.PathLike[str] | None = None
    """A manifest repository file: when the file has no embedded credentials, or invalid
    ones, look its watermark and fingerprint up there (``RECOVERED``,
    :func:`provenance.durable.recovery.recover`)."""
    resolver: str | None = None
    """The same through a soft-binding resolution API (``http://host:port``)."""
    wm_keys: tuple[bytes | str, ...] = ()
    """Private watermark keys to try, after the public key, during recovery."""
    tsa_anchors: tuple[str | os.PathLike[str], ...] = ()
    """PEM files of time-stamping authority anchors, trusted for RFC 3161 timestamps in
    addition to the C2PA TSA Trust List (claim-signer anchors never trust a TSA)."""

    def __post_init__(self) -> None:
        for name in ("trust_anchors", "fragments", "banks", "wm_keys", "tsa_anchors"):
            object.__setattr__(self, name, _paths(getattr(self, name)))


class Checker:
    """Checks files with one set of options; built once, reused for every file.

    Building it reads the trust configuration (stored lists, extra anchors, EKU
    configuration) and opens the banks given as paths; the SDK's reader contexts are
    built on first use and kept. Nothing is cached process-wide: two checkers with
    other options never share state. A checker may be used from several threads.

    Parameters
    ----------
    options
        The options (default: stored trust lists only, nothing else).

    Raises
    ------
    TrustStoreError
        Unreadable or non-PEM ``trust_anchors``, or a damaged trust store.
    BankError
        When a bank given as a path cannot be opened.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> _ = path.write_text("hello")
    >>> with Checker(CheckOptions()) as checker:
    ...     checker.check(path).error.code
    'unsupported_format'
    """

    def __init__(self, options: CheckOptions | None = None) -> None:
        self.options: Final = options if options is not None else CheckOptions()
        data_dir = self.options.data_dir
        target = Path(data_dir) if data_dir is not None else default_data_dir()
        self._trust: Final = _load_trust(
            load(target), self.options.trust_anchors, self.options.tsa_anchors
        )
        self._opened: list[Bank] = []
        self._banks: Final = tuple(self._open_bank(b) for b in self.options.banks)

    def _open_bank(self, bank: Bank | str | os.PathLike[str]) -> Bank:
        from provenance.matching.bank import Bank  # lazy: numpy and SQLite only when banks

        if isinstance(bank, Bank):
            return bank
        try:
            handle = Bank.open(Path(bank))
        except BaseException:
            self.close()
            raise
        self._opened.append(handle)
        return handle

    def close(self) -> None:
        """Close the banks this checker opened (not the ones it was given)."""
        while self._opened:
            self._opened.pop().close()

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tool(self) -> ToolInfo:
        return _tool(self._trust, utc_text(self.options.analyzed_at))

    def check(self, source: _Source, *, name: str | None = None) -> Report:
        """Check a file (a path) or content in memory (bytes) and return its report.

        Parameters
        ----------
        source
            A path, or the content itself (uploads, downloads).
        name
            For content in memory: the subject's name (a file name or URL), stored as
            ``subject.path`` unchanged (default ``-``). Ignored for paths, which are
            reported as absolute paths.

        Returns
        -------
        Report
            Never raises for a bad file: problems give ``verdict=ERROR`` with ``error``.
        """
        if isinstance(source, (bytes, bytearray, memoryview)):
            return self._check_bytes(bytes(source), name if name is not None else "-")
        return self._check_path(source)

    def _check_path(self, path: str | os.PathLike[str]) -> Report:
        tool = self._tool()
        subject_path = os.path.abspath(os.fspath(path))
        try:
            data = read_file(path)
        except InputFileError as exc:
            subject = Subject(path=subject_path)
            if exc.code == "empty_file":
                subject = Subject(path=subject_path, size=0, sha256=_EMPTY_SHA256)
            return _error_report(subject, exc, tool)
        return self._check_content(data, subject_path, os.path.basename(subject_path), tool)

    def _check_bytes(self, data: bytes, name: str) -> Report:
        tool = self._tool()
        if not data:
            return _error_report(
                Subject(path=name, size=0, sha256=_EMPTY_SHA256),
                InputFileError(f"{name} is empty (0 bytes)", code="empty_file"),
                tool,
            )
        return self._check_content(data, name, name, tool)

    def _check_content(self, data: bytes, subject_path: str, name: str, tool: ToolInfo) -> Report:
        options = self.options
        try:
            manifest, fragments = _read_side_files(options.manifest, options.fragments)
        except InputFileError as exc:
            return _error_report(_subject(subject_path, partial_info(data)), exc, tool)
        marks = _generator_marks(data) if options.generator_marks else ()
        report = _check_data(
            data,
            subject_path=subject_path,
            name=name,
            trust=self._trust,
            tool=tool,
            manifest=manifest,
            fragments=fragments,
            allow_network=options.allow_network,
            show_prompts=options.show_prompts,
            marks=marks,
        )
        report = _add_findings(
            report,
            data,
            banks=self._banks,
            metadata=options.metadata,
            show_gps=options.show_gps,
            marks=marks,
        )
        return _maybe_recover(report, data, self._trust.sdk, options)

    def error_report(self, path: str | os.PathLike[str], code: str, message: str) -> Report:
        """An ``ERROR`` report for a file that was not checked (a time limit, a crashed worker).

        The report has the same ``tool`` section as :meth:`check` gives, and the subject's
        size, SHA-256 and sniffed media type when the file is a readable regular file
        (read in chunks: nothing is decoded).

        Parameters
        ----------
        path
            The file.
        code
            Stable machine code (``timeout``, ``worker_crashed``, ``too_large``, ...).
        message
            A plain sentence saying what happened.

        Returns
        -------
        Report
            Verdict ``ERROR`` with ``error`` set.
        """
        subject_path = os.path.abspath(os.fspath(path))
        subject = _unread_subject(subject_path)
        return _error_report(subject, ProvenanceError(message, code=code), self._tool())


_EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()


def check(path: str | os.PathLike[str], **options: Any) -> Report:
    """Check a file's Content Credentials and return a report.

    A convenience for one file: ``Checker(CheckOptions(**options)).check(path)``. Build
    a :class:`Checker` once to check many files.

    Parameters
    ----------
    path
        The file to check.
    **options
        The fields of :class:`CheckOptions` (``trust_anchors``, ``manifest``,
        ``fragments``, ``allow_network``, ``show_prompts``, ``analyzed_at``, ``data_dir``,
        ``banks``, ``metadata``, ``show_gps``, ``generator_marks``, ``repo``,
        ``resolver``, ``wm_keys``).

    Returns
    -------
    Report
        Never raises for a bad file: problems give ``verdict=ERROR`` with ``error`` set.

    Raises
    ------
    TrustStoreError
        Only for bad trust configuration (unreadable or non-PEM ``trust_anchors``,
        damaged trust store).
    BankError
        When a bank given as a path cannot be opened.
    TypeError
        For an unknown option.
    """
    with Checker(CheckOptions(**options)) as checker:
        return checker.check(path)


def check_bytes(data: bytes, *, name: str, **options: Any) -> Report:
    """Check Content Credentials of bytes already in memory (uploads, downloads).

    A convenience: ``Checker(CheckOptions(**options)).check(data, name=name)``.

    Parameters
    ----------
    data
        The file content.
    name
        A name for the subject (file name or URL); stored as ``subject.path`` unchanged.
    **options
        As for :func:`check`; ``manifest`` and ``fragments`` may be bytes.

    Returns
    -------
    Report
        As for :func:`check`.
    """
    with Checker(CheckOptions(**options)) as checker:
        return checker.check(bytes(data), name=name)


def _read_side_file(source: str | os.PathLike[str] | bytes, what: str) -> bytes:
    if isinstance(source, bytes):
        return source
    try:
        return read_file(source)
    except InputFileError as exc:
        raise InputFileError(f"{what}: {exc.message}", code=exc.code) from None


def _read_side_files(
    manifest: str | os.PathLike[str] | bytes | None,
    fragments: Sequence[str | os.PathLike[str] | bytes],
) -> tuple[bytes | None, list[bytes]]:
    manifest_bytes = None if manifest is None else _read_side_file(manifest, "Detached manifest")
    return manifest_bytes, [_read_side_file(frag, "Fragment") for frag in fragments]


def _unread_subject(subject_path: str) -> Subject:
    """Size, SHA-256 and sniffed media type of a regular file (nothing decoded)."""
    try:
        with open(subject_path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return Subject(path=subject_path)
            head = f.read(4096)
            f.seek(0)
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return Subject(path=subject_path)
    media_type = sniff_media_type(head, name=os.path.basename(subject_path)) if head else None
    return Subject(path=subject_path, size=st.st_size, sha256=digest, media_type=media_type)


def _generator_marks(data: bytes) -> tuple[GeneratorMark, ...]:
    """Detected generator watermarks in a picture; empty when it cannot be decoded."""
    from provenance.media import _imageio  # lazy: SciPy and Pillow plugins, ~0.7 s at start-up

    # lazy: the generator-mark detectors, ~1 s at start-up
    from provenance.signals.genmarks import (
        detect_generator_marks,  # lazy: the generator-mark detectors, ~1 s at start-up
    )

    rgb = _imageio.load_rgb(data)
    if rgb is None:
        return ()
    try:
        return detect_generator_marks(rgb)
    except ValueError:  # not an RGB picture after all
        return ()


def _bank_matches(data: bytes, banks: Sequence[Bank]) -> tuple[tuple[Any, ...], Any]:
    """Matches of the picture or video in the banks, and the hashes kept for a rescan."""
    from provenance.matching.bank import (  # lazy: banks only when asked for (~70 ms)
        match_file_hashes,
    )
    from provenance.matching.pdq import PdqError  # lazy: banks only when asked for (~70 ms)

    try:
        return match_file_hashes(data, list(banks))
    except PdqError:  # nothing decodable to hash: no match to report
        return (), None


def _add_findings(
    report: Report,
    data: bytes,
    *,
    banks: Sequence[Bank],
    metadata: bool,
    show_gps: bool,
    marks: Sequence[GeneratorMark],
) -> Report:
    """Add bank matches, metadata facts and generator watermark findings to a report."""
    if report.verdict is Verdict.ERROR:
        return report
    changes: dict[str, Any] = {}
    if banks:
        matches, hashes = _bank_matches(data, banks)
        if matches:
            changes["matches"] = report.matches + tuple(matches)
        if hashes is not None:
            changes["hashes"] = hashes
    if metadata or show_gps:
        # lazy: ~0.5 s at start-up, only with --metadata
        from provenance.signals.metadata import (
            metadata_facts,  # lazy: ~0.5 s at start-up, only with --metadata
        )

        facts = metadata_facts(
            data,
            report.subject.media_type,
            signing_time=report.chain.signing_time if report.chain is not None else None,
            show_gps=show_gps,
        )
        if facts:
            changes["metadata"] = report.metadata + facts
    detected = [m for m in marks if m.detected]
    if detected:
        # lazy: the generator-mark detectors, ~1 s at start-up
        from provenance.signals.genmarks import (
            marks_to_findings,  # lazy: the generator-mark detectors, ~1 s at start-up
        )

        changes["watermarks"] = report.watermarks + marks_to_findings(detected)
    return dataclasses.replace(report, **changes) if changes else report


_RECOVERABLE: Final = frozenset({Verdict.NO_CREDENTIALS, Verdict.INCOMPLETE, Verdict.INVALID})


def _maybe_recover(
    report: Report, data: bytes, sdk: _c2pa.SdkSession, options: CheckOptions
) -> Report:
    """Recover credentials from a repository when asked and the embedded ones are absent or bad."""
    repo, resolver = options.repo, options.resolver
    if (repo is None and resolver is None) or report.verdict not in _RECOVERABLE:
        return report
    # lazy: the watermark core, ~0.15 s, only with --repo/--resolver
    from provenance.durable.recovery import (
        recover,  # lazy: the watermark core, ~0.15 s, only with --repo/--resolver
    )

    return recover(
        report,
        bytes(data),
        media_type=report.subject.media_type,
        trust=sdk,
        repo=Path(repo) if repo is not None else None,
        resolver=resolver,
        wm_keys=options.wm_keys,
        show_prompts=options.show_prompts,
    )
