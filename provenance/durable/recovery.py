"""Recover stripped Content Credentials: watermark and fingerprint -> manifest repository.

:func:`recover`, used by :meth:`provenance.Checker.check` when a file has no embedded
credentials (or invalid ones) and a repository or resolver is given. It looks for the
watermark with the public key and any extra keys, computes the PDQ fingerprint, asks the
repository, fetches each candidate manifest store, validates it against the file with the
C2PA SDK, re-checks every soft binding the manifest declares against the file (C2PA
§18.10.5.1), and returns a report with verdict ``RECOVERED``.

A recovered manifest's hard binding (the hash of the original file) never matches a copy
whose bytes changed; that failure is expected and explained in the summary, not hidden.
Any *other* validation failure (bad signature, tampered assertions) rejects the candidate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from provenance.codes import HARD_BINDING_MISMATCH_CODES, UNTRUSTED_CODES
from provenance.credentials.chain import ChainResult, build_chain
from provenance.durable.client import ResolverClient
from provenance.durable.detect import Mark, content_pdq, find_marks
from provenance.durable.repository import Repository
from provenance.durable.resolver import LocalSource, Source
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    WATERMARK_ALG,
    declared_bindings,
)
from provenance.errors import ProvenanceError
from provenance.matching.pdq import PdqHash
from provenance.media.inspect import inspect_bytes
from provenance.report import (
    AiAssessment,
    AiLabel,
    Recovery,
    Report,
    ReportError,
    Verdict,
)
from provenance.signals.ai import assess_ai

if TYPE_CHECKING:
    from provenance.credentials import _c2pa

__all__ = ["FINGERPRINT_CONSISTENT", "FINGERPRINT_UNRELATED", "recover"]

FINGERPRINT_CONSISTENT: Final = 31
"""PDQ distance up to which a declared fingerprint is "consistent" with the file."""
FINGERPRINT_UNRELATED: Final = 90
"""PDQ distance from which pictures look unrelated (random pictures sit near 128)."""


@dataclass(frozen=True)
class _Candidate:
    source: Source
    manifest_id: str
    method: str
    mark: Mark | None
    similarity: int | None


def _sources(repo: Repository | str | Path | None, resolver: str | None) -> list[Source]:
    out: list[Source] = []
    if repo is not None:
        if isinstance(repo, Repository):
            out.append(LocalSource(repo))
        else:
            out.append(LocalSource(Repository.open(repo), owned=True))
    if resolver is not None:
        out.append(ResolverClient(resolver))
    return out


_EXPECTED_MISMATCH: Final = (
    "Expected for recovered credentials: they were signed for the original file, and this "
    "copy's bytes are different, so the hash binding them to the content cannot match."
)


def _signer_trusted(store: Mapping[str, Any]) -> bool:
    """Whether the SDK reported the active signer as chaining to a trust anchor.

    The validation state of a recovered manifest is ``Invalid`` (its hard binding does not
    match the copy), so trust is read from the ``signingCredential.trusted`` code.
    """
    results = store.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, Mapping) else None
    success = active.get("success") if isinstance(active, Mapping) else None
    return any(
        isinstance(e, Mapping) and e.get("code") == "signingCredential.trusted"
        for e in (success if isinstance(success, list) else [])
    )


def _crop_note(mark: Mark | None, facts: Mapping[str, Any], info: Any) -> str:
    """What the watermark geometry says about scaling and cropping, as a clause."""
    geo = mark.finding.detail.get("geometry") if mark and mark.finding.detail else None
    w0, h0 = facts.get("width"), facts.get("height")
    if not isinstance(geo, Mapping) or not w0 or not h0 or info is None or not info.width:
        return ""
    k = max(0, round(math.log2(min(w0, h0) / 512))) if min(w0, h0) > 0 else 0
    scale = float(geo.get("scale", 0)) / (2**k)
    if scale <= 0:
        return ""
    expected_w, expected_h = w0 * scale, h0 * scale
    frac = (info.width * info.height) / (expected_w * expected_h)
    if frac > 0.97:
        return f", and the watermark shows this copy was scaled by {scale:.2f} but not cropped"
    return (
        f", and the watermark shows this copy was scaled by {scale:.2f} and cropped to about "
        f"{100 * frac:.0f} % of the picture's area"
    )


def _hard_binding_sentence(media_type: str | None, facts: Mapping[str, Any], info: Any) -> str:
    original = ""
    if facts.get("media_type") or facts.get("width"):
        size = (
            f" {facts['width']}x{facts['height']}"
            if facts.get("width") and facts.get("height")
            else ""
        )
        original = f" (a{size} {facts.get('media_type') or 'file'})"
    copy = ""
    if info is not None and info.width and info.height:
        copy = f" This copy is a {info.width}x{info.height} {media_type or 'file'}."
    return (
        "The recovered credentials were signed for the original file"
        f"{original}; this copy's bytes are different (re-encoded, resized or cropped, "
        "metadata removed), so the cryptographic hash that binds the credentials to the "
        "content (the hard binding) no longer matches. That is expected for recovered "
        "credentials: they were found through the watermark or fingerprint, not the hash, "
        "and describe the original, not every detail of this copy." + copy
    )


def recover(
    base: Report,
    data: bytes,
    *,
    media_type: str | None,
    trust: _c2pa.SdkTrust | _c2pa.SdkSession,
    repo: Repository | str | Path | None = None,
    resolver: str | None = None,
    wm_keys: Sequence[bytes | str] = (),
    show_prompts: bool = False,
) -> Report:
    """Try to recover a file's Content Credentials from a repository or resolver.

    Parameters
    ----------
    base
        The report of the ordinary check (``NO_CREDENTIALS``, ``INVALID`` or
        ``INCOMPLETE``).
    data
        The file's bytes.
    media_type
        Its sniffed media type.
    trust
        Trust settings for validating recovered manifests.
    repo
        A local manifest repository (path or open :class:`Repository`).
    resolver
        A soft-binding resolution API base URL.
    wm_keys
        Extra watermark keys to try after the public key.
    show_prompts
        Passed to the AI assessment.

    Returns
    -------
    Report
        ``RECOVERED`` with ``recovery`` and the recovered chain when a candidate validated;
        otherwise ``base`` with the watermark findings and a sentence per lookup.
        Never raises for an unreachable resolver: that becomes a summary sentence.
    """

    try:
        sources = _sources(repo, resolver)
    except ProvenanceError as exc:
        return dataclasses.replace(
            base, summary=(*base.summary, f"Manifest recovery not attempted: {exc.message}")
        )
    try:
        return _recover(
            base,
            data,
            media_type=media_type,
            trust=trust,
            sources=sources,
            wm_keys=wm_keys,
            show_prompts=show_prompts,
        )
    finally:
        for source in sources:
            if isinstance(source, LocalSource) and source.owned:
                source.repo.close()


def _lookup(
    sources: list[Source],
    found: list[Mark],
    hashed: Any,
    data: bytes,
    media_type: str | None,
    notes: list[str],
    failed: list[tuple[str, ProvenanceError]],
) -> list[_Candidate]:
    """Ask every source for the watermark identifiers found, then for the PDQ hash."""
    candidates: list[_Candidate] = []
    for source in sources:
        try:
            candidates += _lookup_one(source, found, hashed, data, media_type, notes)
        except ProvenanceError as exc:
            notes.append(f"Lookup in {source.name} failed: {exc.message}")
            failed.append((source.name, exc))
    return candidates


def _lookup_one(
    source: Source,
    found: list[Mark],
    hashed: Any,
    data: bytes,
    media_type: str | None,
    notes: list[str],
) -> list[_Candidate]:
    """Ask one source, using only the queries it supports (resolvers: from discovery)."""
    info = source.discover() if isinstance(source, ResolverClient) else None
    wm_ok = info is None or info.answers(WATERMARK_ALG)
    fp_ok = info is None or info.answers(FINGERPRINT_ALG)
    out: list[_Candidate] = []
    for mark in found if wm_ok else []:
        assert mark.payload is not None
        for m in source.matches(WATERMARK_ALG, mark.payload, 5):
            out.append(_Candidate(source, m.manifest_id, "watermark", mark, 100))
    if hashed is not None and fp_ok:
        for m in source.matches(FINGERPRINT_ALG, hashed.hash.digest, 5):
            out.append(_Candidate(source, m.manifest_id, "fingerprint", None, m.similarity))
    if info is None or (wm_ok and fp_ok):
        return out
    assert isinstance(source, ResolverClient)
    if not wm_ok and not fp_ok and info.supports("queryByContent") and media_type is not None:
        first = found[0] if found else None
        for m in source.matches_by_content(data, media_type, max_results=5):
            method = "watermark" if first is not None else "fingerprint"
            out.append(_Candidate(source, m.manifest_id, method, first, m.similarity))
        return out
    missing = [a for a, ok in ((WATERMARK_ALG, wm_ok), (FINGERPRINT_ALG, fp_ok)) if not ok]
    notes.append(
        f"Resolver {source.name} cannot answer {' or '.join(missing)} lookups"
        + ("" if out else " and offers no queryByContent")
        + f" ({info.describe()})."
    )
    return out


def _validate(
    cand: _Candidate,
    data: bytes,
    media_type: str | None,
    trust: _c2pa.SdkTrust | _c2pa.SdkSession,
    notes: list[str],
    failed: list[tuple[str, ProvenanceError]],
) -> tuple[_c2pa.SdkStore, ChainResult] | None:
    """Fetch a candidate's store and validate it against the file (None: rejected)."""
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    try:
        store = cand.source.fetch(cand.manifest_id)
    except ProvenanceError as exc:
        notes.append(f"Manifest {cand.manifest_id} could not be fetched: {exc.message}")
        failed.append((cand.source.name, exc))
        return None
    if store is None:
        notes.append(f"{cand.source.name} lists manifest {cand.manifest_id} but has no store")
        return None
    if media_type is None:
        return None
    try:
        outcome = _c2pa.read_store(data, media_type=media_type, trust=trust, manifest=store)
    except ProvenanceError as exc:
        notes.append(f"Manifest {cand.manifest_id} could not be validated: {exc.message}")
        return None
    if not isinstance(outcome, _c2pa.SdkStore):
        notes.append(f"Manifest {cand.manifest_id} from {cand.source.name} is empty")
        return None
    chain = build_chain(outcome.store, outcome.certificates, active_format=media_type)
    if chain is None:
        notes.append(f"Manifest {cand.manifest_id} names no active manifest")
        return None
    serious = {f.code for f in chain.validated} - UNTRUSTED_CODES - HARD_BINDING_MISMATCH_CODES
    if serious:
        notes.append(
            f"Manifest {cand.manifest_id} from {cand.source.name} was rejected: it does not "
            f"validate ({', '.join(sorted(serious))})."
        )
        return None
    return outcome, chain


@dataclass
class _Evidence:
    """Why a candidate is believed: report detail and summary lines."""

    detail: dict[str, Any]
    lines: list[str] = dataclasses.field(default_factory=list)


def _watermark_evidence(
    cand: _Candidate, found: list[Mark], wm_declared: list[bytes], ev: _Evidence, notes: list[str]
) -> bool:
    """Check the watermark identifiers against the manifest's; False rejects the candidate."""
    if cand.mark is not None:
        if cand.mark.payload not in wm_declared:
            notes.append(
                f"Manifest {cand.manifest_id} was rejected: it does not declare the "
                "watermark identifier it was found by."
            )
            return False
        f = cand.mark.finding
        ev.detail.update(
            {
                "alg": WATERMARK_ALG,
                "identifier": f.payload_hex,
                "p_value": f.p_value,
                "score": round(f.score, 3),
                "key": f.key_name,
            }
        )
        ev.lines.append(
            f"Found through the invisible watermark: identifier {f.payload_hex} "
            f"({f.key_name} key; chance of a false detection at most {f.p_value:.1e})."
        )
    elif found:
        # A fingerprint candidate while this file carries another watermark identifier.
        others = {m.payload for m in found}
        if wm_declared and not others & set(wm_declared):
            notes.append(
                f"Manifest {cand.manifest_id} looks similar but declares a different "
                "watermark identifier than this file carries; not used."
            )
            return False
    return True


def _fingerprint_evidence(
    cand: _Candidate,
    hashed: Any,
    fp_declared: list[bytes],
    info: Any,
    ev: _Evidence,
    notes: list[str],
) -> bool:
    """Compare the declared PDQ fingerprint with the file's; False rejects the candidate."""
    if hashed is None or not fp_declared:
        if cand.method == "fingerprint":
            notes.append(
                f"Manifest {cand.manifest_id} declares no fingerprint to confirm the match."
            )
            return False
        return True
    dist = min(PdqHash(v, None).distance(q) for v in fp_declared for q in hashed.variants)
    ev.detail["fingerprint_alg"] = FINGERPRINT_ALG
    ev.detail["fingerprint_distance"] = dist
    if dist <= FINGERPRINT_CONSISTENT:
        ev.lines.append(
            f"The PDQ fingerprint recorded in the manifest is close to this file's "
            f"(distance {dist} of 256 bits): consistent."
        )
    elif cand.method == "fingerprint":
        notes.append(f"Manifest {cand.manifest_id} fingerprint is too far ({dist}).")
        return False
    elif dist >= FINGERPRINT_UNRELATED:
        ev.lines.append(
            f"The PDQ fingerprint recorded in the manifest does not match this copy "
            f"(distance {dist} of 256 bits). PDQ does not survive cropping"
            + _crop_note(cand.mark, cand.source.facts(cand.manifest_id), info)
            + "; if the pictures look different, the watermark may have been copied "
            "onto other content (C2PA §1.2.2.3)."
        )
    else:
        ev.lines.append(
            f"The PDQ fingerprint recorded in the manifest is some distance from this "
            f"file's ({dist} of 256 bits), as after cropping or heavy editing."
        )
    if cand.method == "fingerprint":
        ev.detail["alg"] = FINGERPRINT_ALG
        ev.lines.insert(0, f"Found through the PDQ fingerprint (distance {dist} of 256 bits).")
    return True


def _recover(
    base: Report,
    data: bytes,
    *,
    media_type: str | None,
    trust: _c2pa.SdkTrust | _c2pa.SdkSession,
    sources: list[Source],
    wm_keys: Sequence[bytes | str],
    show_prompts: bool,
) -> Report:
    notes: list[str] = []
    failed: list[tuple[str, ProvenanceError]] = []
    marks = find_marks(data, media_type, wm_keys)
    found = [m for m in marks if m.payload is not None]
    hashed = content_pdq(data, media_type)
    candidates = _lookup(sources, found, hashed, data, media_type, notes, failed)
    try:
        info = inspect_bytes(data)
    except ProvenanceError:
        info = None
    seen: set[tuple[str, str]] = set()
    for cand in candidates:
        key = (cand.source.name, cand.manifest_id)
        if key in seen:
            continue
        seen.add(key)
        valid = _validate(cand, data, media_type, trust, notes, failed)
        if valid is None:
            continue
        outcome, chain = valid
        declared = declared_bindings(outcome.store)
        kind = "repository" if isinstance(cand.source, LocalSource) else "resolver"
        ev = _Evidence({"source_kind": kind})
        wm_declared = [b.value for b in declared if b.alg == WATERMARK_ALG]
        if not _watermark_evidence(cand, found, wm_declared, ev, notes):
            continue
        fp_declared = [b.value for b in declared if b.alg == FINGERPRINT_ALG and len(b.value) == 32]
        if not _fingerprint_evidence(cand, hashed, fp_declared, info, ev, notes):
            continue
        return _recovered_report(
            base,
            data,
            media_type=media_type,
            cand=cand,
            chain=chain,
            store_json=outcome.store,
            detail=ev.detail,
            lines=ev.lines,
            notes=notes,
            marks=marks,
            facts=cand.source.facts(cand.manifest_id),
            info=info,
            show_prompts=show_prompts,
        )
    return _nothing_recovered(base, marks, found, sources, notes, failed)


def _nothing_recovered(
    base: Report,
    marks: list[Mark],
    found: list[Mark],
    sources: list[Source],
    notes: list[str],
    failed: Sequence[tuple[str, ProvenanceError]] = (),
) -> Report:
    """Keep the base report; add the watermark findings and why nothing was recovered."""
    if found:
        ids = ", ".join(sorted({m.finding.payload_hex or "" for m in found}))
        where = ", ".join(s.name for s in sources)
        notes.insert(
            0,
            f"An invisible watermark ({WATERMARK_ALG}) carries identifier {ids}, but no "
            f"manifest was recovered for it from {where}.",
        )
    elif not notes:
        notes.append("No watermark or fingerprint match was found in the manifest repository.")
    return dataclasses.replace(
        base,
        summary=(*base.summary, *notes),
        watermarks=(*base.watermarks, *(m.finding for m in marks if m.finding.found)),
        recovery=_failed_recovery(failed),
    )


def _failed_recovery(failed: Sequence[tuple[str, ProvenanceError]]) -> Recovery | None:
    """``recovery`` with ``error`` set when a source failed (not when it found nothing)."""
    if not failed:
        return None
    where, exc = failed[0]
    return Recovery(None, None, where, error=ReportError(exc.code, exc.message))


def _recovered_summary(
    base: Report, cand: _Candidate, root: Any, trusted: bool, lines: list[str]
) -> list[str]:
    """Where the credentials came from, why they are believed, who signed them and when."""
    embedded = (
        ""
        if base.verdict is Verdict.NO_CREDENTIALS
        else f" (the embedded ones are {base.verdict.value.lower().replace('_', ' ')})"
    )
    summary = [
        f"Content Credentials recovered from {cand.source.name} (manifest {cand.manifest_id}): "
        f"they were not embedded in this file{embedded}.",
        *lines,
    ]
    issuer = root.issuer
    who = (issuer.organization or issuer.common_name) if issuer is not None else None
    if who:
        summary.append(
            f"Signed by {who}"
            + (
                ", a signer on a trust list you use."
                if trusted
                else ", who is not on any trust list you configured: identity unconfirmed."
            )
        )
    if root.signing_time:
        summary.append(f"Signed on {root.signing_time}.")
    return summary


def _recovered_report(
    base: Report,
    data: bytes,
    *,
    media_type: str | None,
    cand: _Candidate,
    chain: Any,
    store_json: Mapping[str, Any],
    detail: dict[str, Any],
    lines: list[str],
    notes: list[str],
    marks: list[Mark],
    facts: Mapping[str, Any],
    info: Any,
    show_prompts: bool,
) -> Report:
    root = chain.root
    trusted = _signer_trusted(store_json) and not (
        {f.code for f in chain.validated} & UNTRUSTED_CODES
    )
    detail["trusted"] = trusted
    detail["manifest_label"] = root.label
    detail["hard_binding"] = (
        "mismatch"
        if any(f.code in HARD_BINDING_MISMATCH_CODES for f in chain.validated)
        else "match"
    )
    # The hard binding of a recovered manifest cannot match a changed copy (C2PA §18.14.10):
    # it is reported, with that explanation, but does not make the recovered claims
    # unreliable. Every other failure already rejected the candidate.
    changes: dict[str, Any] = {
        "failures": tuple(f for f in root.failures if f.code not in HARD_BINDING_MISMATCH_CODES)
    }
    if "trusted" in {f.name for f in dataclasses.fields(root)}:
        changes["trusted"] = trusted
    root = dataclasses.replace(root, **changes)
    failures = tuple(
        dataclasses.replace(f, message=_EXPECTED_MISMATCH)
        if f.code in HARD_BINDING_MISMATCH_CODES and f.manifest is None
        else f
        for f in (*chain.validated, *chain.recorded)
    )
    try:
        ai = assess_ai(data, media_type, root, show_prompts=show_prompts)
    except Exception:  # the AI collectors must not lose the report
        ai = AiAssessment(AiLabel.UNKNOWN)
    summary = _recovered_summary(base, cand, root, trusted, lines)
    if detail["hard_binding"] == "mismatch":
        summary.append(_hard_binding_sentence(media_type, facts, info))
    summary.extend(notes)
    return Report(
        subject=base.subject,
        verdict=Verdict.RECOVERED,
        summary=tuple(summary),
        chain=root,
        failures=failures,
        ai=ai,
        tool=base.tool,
        remote_manifest_url=base.remote_manifest_url,
        watermarks=(*base.watermarks, *(m.finding for m in marks if m.finding.found)),
        matches=base.matches,
        metadata=base.metadata,
        recovery=Recovery(
            method=cand.method,
            manifest_id=cand.manifest_id,
            source=cand.source.name,
            detail=detail,
        ),
    )
