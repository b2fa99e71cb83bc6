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
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from provenance.codes import HARD_BINDING_MISMATCH_CODES, UNTRUSTED_CODES
from provenance.credentials.chain import ChainResult, build_chain, iter_nodes
from provenance.credentials.trust import (
    MANIFEST_NAME,
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
)
from provenance.media.inspect import (
    FRAGMENT_MEDIA_TYPE,
    MediaInfo,
    inspect_bytes,
    partial_info,
    read_file,
    remote_manifest_reference,
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

__all__ = ["check", "check_bytes", "derive_verdict", "error_report"]

_MEDIA_EXTENSIONS: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".mp4", ".mov", ".heic"}
)


@dataclass(frozen=True)
class _Trust:
    sdk: _c2pa.SdkTrust
    sources: tuple[TrustSource, ...]


def _utc_text(when: dt.datetime | None) -> str:
    moment = when if when is not None else dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_TrustKey = tuple[str, tuple[str, ...]]
_Signature = tuple[tuple[int, int, int, int] | None, ...]

_TRUST_CACHE: Final[OrderedDict[_TrustKey, tuple[tuple[Path, ...], _Signature, _Trust]]] = (
    OrderedDict()
)
_TRUST_CACHE_LOCK: Final = threading.Lock()
_TRUST_CACHE_SIZE: Final = 8


def _file_signature(path: Path) -> tuple[int, int, int, int] | None:
    """Identity and version of a file (inode, size, mtime, ctime); None if it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _signature(paths: Sequence[Path]) -> _Signature:
    return tuple(_file_signature(p) for p in paths)


def _prepare_trust(
    trust_anchors: Sequence[str | os.PathLike[str]], data_dir: Path | None
) -> _Trust:
    """Trust material for the SDK and the report, parsed once per process while unchanged.

    The cache key is the data directory and the anchor paths; an entry is reused only when
    ``trust.json``, every stored list and every anchor file still has the inode, size,
    mtime and ctime seen before they were read. Failures are never cached.
    """
    target = data_dir if data_dir is not None else default_data_dir()
    anchors = tuple(os.path.abspath(os.fspath(a)) for a in trust_anchors)
    key = (os.path.abspath(target), anchors)
    with _TRUST_CACHE_LOCK:
        cached = _TRUST_CACHE.get(key)
    if cached is not None:
        paths, seen, trust = cached
        if _signature(paths) == seen:
            with _TRUST_CACHE_LOCK:
                if key in _TRUST_CACHE:
                    _TRUST_CACHE.move_to_end(key)
            return trust
    manifest_path = target / MANIFEST_NAME
    before = _signature([manifest_path])
    store: TrustStore = load(target)
    watched = (
        manifest_path,
        *(stored.path for stored in store.lists),
        *(Path(a) for a in anchors),
    )
    # Stat before reading: a change made while reading shows up as a mismatch next time.
    seen = before + _signature(watched[1:])
    trust = _load_trust(store, trust_anchors)
    if _signature([manifest_path]) == before:
        with _TRUST_CACHE_LOCK:
            _TRUST_CACHE[key] = (watched, seen, trust)
            _TRUST_CACHE.move_to_end(key)
            while len(_TRUST_CACHE) > _TRUST_CACHE_SIZE:
                _TRUST_CACHE.popitem(last=False)
    return trust


def _load_trust(store: TrustStore, trust_anchors: Sequence[str | os.PathLike[str]]) -> _Trust:
    parts: list[str] = []
    sources: list[TrustSource] = []
    if not store.empty:
        parts.append(store.anchors_pem())
        sources.extend(store.sources())
    for anchor in trust_anchors:
        p = Path(anchor)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise TrustStoreError(
                f"Cannot read trust anchors {p}: {exc.strerror or exc}",
                code="trust_anchors_unreadable",
            ) from None
        count = len(load_pem_bundle(raw, origin=str(p)))
        parts.append(raw.decode("utf-8", errors="replace"))
        sources.append(
            TrustSource(
                name=f"--trust-anchors {p.name}",
                location=str(p.resolve()),
                sha256=hashlib.sha256(raw).hexdigest(),
                certificates=count,
            )
        )
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

    return _Trust(_c2pa.SdkTrust("\n".join(parts), eku), tuple(sources))


def _tool(trust: _Trust | None, analyzed_at: str) -> ToolInfo:
    import provenance
    from provenance.credentials import _c2pa

    return ToolInfo(
        version=provenance.__version__,
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
    return Report(
        subject=subject,
        verdict=Verdict.ERROR,
        summary=(error.message,),
        chain=None,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN),
        tool=tool,
        error=ReportError(error.code, error.message),
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
    from provenance.credentials import _c2pa

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
        if exc.url is None:
            url = remote_manifest_reference(data)
            if url is not None:
                exc = RemoteManifestError(
                    exc.message.replace("an unknown URL", url),
                    url=url,
                    code=exc.code,
                    detail=exc.detail,
                )
        if exc.code == "remote_manifest_not_fetched":
            ai = _assess_ai(data, media_type, None, show_prompts=show_prompts, marks=marks)
            lines = [
                f"Remote manifest at {exc.url or 'an unknown URL'}, not fetched "
                "(network access was not allowed).",
                "No Content Credentials are embedded in the file itself.",
            ]
            ai_line = _AI_SENTENCE.get(ai.label)
            if ai_line:
                lines.append(ai_line)
            return Report(
                subject=subject,
                verdict=Verdict.NO_CREDENTIALS,
                summary=tuple(lines),
                chain=None,
                failures=(),
                ai=ai,
                tool=tool,
                error=ReportError(exc.code, exc.message),
                remote_manifest_url=exc.url,
            )
        return _error_report(subject, exc, tool, remote_url=exc.url)
    except ProvenanceError as exc:
        return _error_report(subject, exc, tool)
    if isinstance(outcome, _c2pa.SdkNoManifest):
        ai = _assess_ai(data, media_type, None, show_prompts=show_prompts, marks=marks)
        lines = [
            "No Content Credentials found. This is common after upload to social media "
            "or messaging apps and says nothing about whether the content is authentic."
        ]
        ai_line = _AI_SENTENCE.get(ai.label)
        if ai_line:
            lines.append(ai_line)
        return Report(
            subject=subject,
            verdict=Verdict.NO_CREDENTIALS,
            summary=tuple(lines),
            chain=None,
            failures=(),
            ai=ai,
            tool=tool,
        )
    chain = build_chain(
        outcome.store,
        outcome.certificates,
        extra_validation=_fragment_failures(outcome.fragment_results),
        active_format=media_type,
    )
    if chain is None:
        return _error_report(
            subject,
            ProvenanceError(
                "The manifest store names no active manifest.", code="malformed_manifest"
            ),
            tool,
        )
    verdict = derive_verdict(outcome.state, chain.validated)
    ai = _assess_ai(data, media_type, chain.root, show_prompts=show_prompts, marks=marks)
    extra = []
    if media_type == "application/c2pa" and manifest is None:
        extra.append(
            "This file is a detached manifest store checked on its own: the content it "
            "describes is not here, so its hard binding cannot match. Check the asset "
            "with this file as its manifest instead."
        )
    if manifest is not None:
        extra.append("The credentials were read from a separate manifest file.")
    if fragments:
        extra.append(f"{len(fragments)} video fragment(s) were checked with the init segment.")
    if outcome.remote_url:
        extra.append(f"The credentials were fetched from {outcome.remote_url}.")
    return Report(
        subject=subject,
        verdict=verdict,
        summary=_summary(
            verdict, chain, ai, extra=extra, timestamp_notes=_timestamp_notes(outcome.store)
        ),
        chain=chain.root,
        failures=chain.validated + chain.recorded,
        ai=ai,
        tool=tool,
        remote_manifest_url=outcome.remote_url,
    )


def _read_side_files(
    manifest: str | os.PathLike[str] | None,
    fragments: Sequence[str | os.PathLike[str]],
) -> tuple[bytes | None, list[bytes]]:
    manifest_bytes = None
    if manifest is not None:
        try:
            manifest_bytes = read_file(manifest)
        except InputFileError as exc:
            raise InputFileError(f"Detached manifest: {exc.message}", code=exc.code) from None
    frags = []
    for frag in fragments:
        try:
            frags.append(read_file(frag))
        except InputFileError as exc:
            raise InputFileError(f"Fragment: {exc.message}", code=exc.code) from None
    return manifest_bytes, frags


def check(
    path: str | os.PathLike[str],
    *,
    trust_anchors: Sequence[str | os.PathLike[str]] = (),
    manifest: str | os.PathLike[str] | None = None,
    allow_network: bool = False,
    fragments: Sequence[str | os.PathLike[str]] = (),
    show_prompts: bool = False,
    analyzed_at: dt.datetime | None = None,
    data_dir: Path | None = None,
    banks: Sequence[Bank | str | os.PathLike[str]] = (),
    metadata: bool = False,
    show_gps: bool = False,
    generator_marks: bool = False,
    repo: str | os.PathLike[str] | None = None,
    resolver: str | None = None,
    wm_keys: Sequence[bytes | str] = (),
) -> Report:
    """Check a file's Content Credentials and return a report.

    Parameters
    ----------
    path
        The file to check.
    trust_anchors
        PEM files whose certificates are trusted in addition to the stored trust lists.
    manifest
        A detached manifest store (``.c2pa``) to validate against the file.
    allow_network
        Fetch remote (cloud) manifests and OCSP responses. Off by default: a remote
        manifest is then reported as "not fetched" with ``remote_manifest_url`` set.
    fragments
        fMP4 fragments (``.m4s``) to validate with ``path`` as the init segment.
    show_prompts
        Show generator prompts found in the file (redacted by default).
    analyzed_at
        Pin ``tool.analyzed_at`` (naive datetimes are taken as UTC).
    data_dir
        Where stored trust lists live; default
        :func:`provenance.credentials.trust.default_data_dir`.
    banks
        Banks of known content (:class:`provenance.matching.bank.Bank` objects, or paths opened
        for this call); matches go to ``matches``. Nothing is hashed when empty.
    metadata
        Add metadata and structure facts (:func:`provenance.signals.metadata.metadata_facts`)
        to ``metadata``.
    show_gps
        Show GPS coordinates in the metadata facts (implies ``metadata``).
    generator_marks
        Decode the pixels and look for the default invisible watermarks of open image
        generators (:mod:`provenance.signals.genmarks`): detected marks become AI signals and
        ``watermarks`` findings.
    repo
        A manifest repository file (:mod:`provenance.durable.repository`): when the file has no
        embedded credentials, or invalid ones, look its watermark and fingerprint up there
        and report the credentials found as ``RECOVERED``
        (:func:`provenance.durable.resolver.recover`).
    resolver
        The same through a soft-binding resolution API (``http://host:port``).
    wm_keys
        Private watermark keys to try, after the public key, during recovery.

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
    """
    if isinstance(trust_anchors, (str, os.PathLike)):
        trust_anchors = (trust_anchors,)
    if isinstance(fragments, (str, os.PathLike)):
        fragments = (fragments,)
    stamp = _utc_text(analyzed_at)
    trust = _prepare_trust(trust_anchors, data_dir)
    tool = _tool(trust, stamp)
    subject_path = os.path.abspath(os.fspath(path))
    try:
        data = read_file(path)
    except InputFileError as exc:
        subject = Subject(path=subject_path)
        if exc.code == "empty_file":
            subject = Subject(path=subject_path, size=0, sha256=hashlib.sha256(b"").hexdigest())
        return _error_report(subject, exc, tool)
    try:
        manifest_bytes, frags = _read_side_files(manifest, fragments)
    except InputFileError as exc:
        return _error_report(_subject(subject_path, partial_info(data)), exc, tool)
    marks = _generator_marks(data) if generator_marks else ()
    report = _check_data(
        data,
        subject_path=subject_path,
        name=os.path.basename(subject_path),
        trust=trust,
        tool=tool,
        manifest=manifest_bytes,
        fragments=frags,
        allow_network=allow_network,
        show_prompts=show_prompts,
        marks=marks,
    )
    report = _add_findings(
        report, data, banks=banks, metadata=metadata, show_gps=show_gps, marks=marks
    )
    return _maybe_recover(
        report, data, trust, repo=repo, resolver=resolver, wm_keys=wm_keys, prompts=show_prompts
    )


def check_bytes(
    data: bytes,
    *,
    name: str,
    trust_anchors: Sequence[str | os.PathLike[str]] = (),
    manifest: bytes | None = None,
    allow_network: bool = False,
    fragments: Sequence[bytes] = (),
    show_prompts: bool = False,
    analyzed_at: dt.datetime | None = None,
    data_dir: Path | None = None,
    banks: Sequence[Bank | str | os.PathLike[str]] = (),
    metadata: bool = False,
    show_gps: bool = False,
    generator_marks: bool = False,
    repo: str | os.PathLike[str] | None = None,
    resolver: str | None = None,
    wm_keys: Sequence[bytes | str] = (),
) -> Report:
    """Check Content Credentials of bytes already in memory (uploads, downloads).

    Parameters
    ----------
    data
        The file content.
    name
        A name for the subject (file name or URL); stored as ``subject.path`` unchanged.
    trust_anchors, allow_network, show_prompts, analyzed_at, data_dir
        As for :func:`check`.
    banks, metadata, show_gps, generator_marks, repo, resolver, wm_keys
        As for :func:`check`.
    manifest
        Detached manifest store bytes.
    fragments
        fMP4 fragment bytes.

    Returns
    -------
    Report
        As for :func:`check`.
    """
    if isinstance(trust_anchors, (str, os.PathLike)):
        trust_anchors = (trust_anchors,)
    stamp = _utc_text(analyzed_at)
    trust = _prepare_trust(trust_anchors, data_dir)
    tool = _tool(trust, stamp)
    if not data:
        return _error_report(
            Subject(path=name, size=0, sha256=hashlib.sha256(b"").hexdigest()),
            InputFileError(f"{name} is empty (0 bytes)", code="empty_file"),
            tool,
        )
    marks = _generator_marks(data) if generator_marks else ()
    report = _check_data(
        bytes(data),
        subject_path=name,
        name=name,
        trust=trust,
        tool=tool,
        manifest=manifest,
        fragments=list(fragments),
        allow_network=allow_network,
        show_prompts=show_prompts,
        marks=marks,
    )
    report = _add_findings(
        report, data, banks=banks, metadata=metadata, show_gps=show_gps, marks=marks
    )
    return _maybe_recover(
        report, data, trust, repo=repo, resolver=resolver, wm_keys=wm_keys, prompts=show_prompts
    )


def _generator_marks(data: bytes) -> tuple[GeneratorMark, ...]:
    """Detected generator watermarks in a picture; empty when it cannot be decoded."""
    from provenance.media import _imageio
    from provenance.signals.genmarks import detect_generator_marks

    rgb = _imageio.load_rgb(data)
    if rgb is None:
        return ()
    try:
        return detect_generator_marks(rgb)
    except ValueError:  # not an RGB picture after all
        return ()


def _bank_matches(data: bytes, banks: Sequence[Bank | str | os.PathLike[str]]) -> tuple[Any, ...]:
    """Matches of the picture or video in the banks (banks given as paths are opened here)."""
    from provenance.matching.bank import Bank, match_file
    from provenance.matching.pdq import PdqError

    opened: list[Bank] = []
    try:
        use: list[Bank] = []
        for bank in banks:
            if isinstance(bank, Bank):
                use.append(bank)
            else:
                handle = Bank.open(Path(bank))
                opened.append(handle)
                use.append(handle)
        try:
            return match_file(data, use)
        except PdqError:  # nothing decodable to hash: no match to report
            return ()
    finally:
        for handle in opened:
            handle.close()


def _add_findings(
    report: Report,
    data: bytes,
    *,
    banks: Sequence[Bank | str | os.PathLike[str]],
    metadata: bool,
    show_gps: bool,
    marks: Sequence[GeneratorMark],
) -> Report:
    """Add bank matches, metadata facts and generator watermark findings to a report."""
    if report.verdict is Verdict.ERROR:
        return report
    changes: dict[str, Any] = {}
    if banks:
        matches = _bank_matches(data, banks)
        if matches:
            changes["matches"] = report.matches + tuple(matches)
    if metadata or show_gps:
        from provenance.signals.metadata import metadata_facts

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
        from provenance.signals.genmarks import marks_to_findings

        changes["watermarks"] = report.watermarks + marks_to_findings(detected)
    return dataclasses.replace(report, **changes) if changes else report


def error_report(
    path: str | os.PathLike[str],
    code: str,
    message: str,
    *,
    trust_anchors: Sequence[str | os.PathLike[str]] = (),
    analyzed_at: dt.datetime | None = None,
    data_dir: Path | None = None,
) -> Report:
    """An ``ERROR`` report for a file that was not checked (a time limit, a crashed worker).

    The report has the same ``tool`` section as :func:`check` would give with the same
    options, and the subject's size, SHA-256 and sniffed media type when the file is a
    readable regular file (read in chunks: nothing is decoded).

    Parameters
    ----------
    path
        The file.
    code
        Stable machine code (``timeout``, ``worker_crashed``, ``too_large``, ...).
    message
        A plain sentence saying what happened.
    trust_anchors, analyzed_at, data_dir
        As for :func:`check`.

    Returns
    -------
    Report
        Verdict ``ERROR`` with ``error`` set.

    Raises
    ------
    TrustStoreError
        Only for bad trust configuration, as for :func:`check`.
    """
    import stat

    from provenance.media.inspect import sniff_media_type

    if isinstance(trust_anchors, (str, os.PathLike)):
        trust_anchors = (trust_anchors,)
    tool = _tool(_prepare_trust(trust_anchors, data_dir), _utc_text(analyzed_at))
    subject_path = os.path.abspath(os.fspath(path))
    subject = Subject(path=subject_path)
    try:
        with open(subject_path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode):
                head = f.read(4096)
                f.seek(0)
                digest = hashlib.file_digest(f, "sha256").hexdigest()
                subject = Subject(
                    path=subject_path,
                    size=st.st_size,
                    sha256=digest,
                    media_type=sniff_media_type(head, name=os.path.basename(subject_path))
                    if head
                    else None,
                )
    except OSError:
        pass
    return _error_report(subject, ProvenanceError(message, code=code), tool)


_RECOVERABLE: Final = frozenset({Verdict.NO_CREDENTIALS, Verdict.INCOMPLETE, Verdict.INVALID})


def _maybe_recover(
    report: Report,
    data: bytes,
    trust: _Trust,
    *,
    repo: str | os.PathLike[str] | None,
    resolver: str | None,
    wm_keys: Sequence[bytes | str],
    prompts: bool,
) -> Report:
    """Recover credentials from a repository when asked and the embedded ones are absent or bad."""
    if (repo is None and resolver is None) or report.verdict not in _RECOVERABLE:
        return report
    from provenance.durable.resolver import recover

    return recover(
        report,
        bytes(data),
        media_type=report.subject.media_type,
        trust=trust.sdk,
        repo=Path(repo) if repo is not None else None,
        resolver=resolver,
        wm_keys=tuple(wm_keys),
        show_prompts=prompts,
    )
