"""Recover stripped Content Credentials: watermark and fingerprint -> manifest repository.

Two parts:

* :class:`ResolverClient`, a small ``urllib`` client for the C2PA soft-binding resolution
  API (``GET``/``POST /matches/byBinding``, ``POST /matches/byContent``,
  ``GET /manifests/{id}``, ``GET /services/supportedAlgorithms``, and this project's
  ``POST /manifests``), as served by :mod:`provenance.durable.server`;
* :func:`recover`, used by :func:`provenance.check` when a file has no embedded credentials
  (or invalid ones) and a repository or resolver is given. It looks for the watermark with
  the public key and any extra keys, computes the PDQ fingerprint, asks the repository,
  fetches each candidate manifest store, validates it against the file with the C2PA SDK,
  re-checks every soft binding the manifest declares against the file (C2PA §18.10.5.1),
  and returns a report with verdict ``RECOVERED``.

A recovered manifest's hard binding (the hash of the original file) never matches a copy
whose bytes changed; that failure is expected and explained in the summary, not hidden.
Any *other* validation failure (bad signature, tampered assertions) rejects the candidate.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import numpy as np
from numpy.typing import NDArray

from provenance.codes import HARD_BINDING_MISMATCH_CODES, UNTRUSTED_CODES
from provenance.durable.client import (
    DEFAULT_TIMEOUT,
    MAX_MANIFEST_BYTES,
    RemoteMatch,
    ResolverClient,
    ResolverError,
)
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    VIDEO_MEDIA_TYPES,
    WATERMARK_ALG,
    declared_bindings,
)
from provenance.errors import ProvenanceError
from provenance.media import _imageio, budget
from provenance.report import (
    AiAssessment,
    AiLabel,
    Recovery,
    Report,
    Verdict,
    WatermarkFinding,
)

if TYPE_CHECKING:
    from provenance.credentials import _c2pa
    from provenance.durable.repository import Repository

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_MANIFEST_BYTES",
    "LocalSource",
    "RemoteMatch",
    "ResolverClient",
    "ResolverError",
    "detect_watermark",
    "recover",
]

MAX_VIDEO_FRAMES: Final = 48
"""Video frames analysed for the watermark (the first ones)."""
FINGERPRINT_CONSISTENT: Final = 31
"""PDQ distance up to which a declared fingerprint is "consistent" with the file."""
FINGERPRINT_UNRELATED: Final = 90
"""PDQ distance from which pictures look unrelated (random pictures sit near 128)."""
_ALPHA: Final = 1e-6


class _Source(Protocol):
    name: str

    def matches(self, alg: str, value: bytes, max_results: int) -> list[RemoteMatch]: ...

    def fetch(self, manifest_id: str) -> bytes | None: ...

    def facts(self, manifest_id: str) -> Mapping[str, Any]: ...


class LocalSource:
    """A local :class:`~provenance.durable.repository.Repository` seen as a resolver."""

    def __init__(self, repo: Repository, *, owned: bool = False) -> None:
        self.repo = repo
        self.name = str(repo.path)
        self.owned = owned
        """Whether this source opened the repository (and closes it)."""

    def matches(self, alg: str, value: bytes, max_results: int) -> list[RemoteMatch]:
        return [
            RemoteMatch(m.manifest_id, None, m.similarity)
            for m in self.repo.by_binding(alg, value, max_results=max_results)
        ]

    def fetch(self, manifest_id: str) -> bytes | None:
        return self.repo.get(manifest_id)

    def facts(self, manifest_id: str) -> Mapping[str, Any]:
        info = self.repo.info(manifest_id)
        return dataclasses.asdict(info) if info is not None else {}


# ----------------------------------------------------------------------------- detection


@dataclass(frozen=True)
class _Mark:
    finding: WatermarkFinding
    payload: bytes | None


def _image_pixels(data: bytes) -> NDArray[np.uint8] | None:
    """The pixels for the watermark detector, reduced by the power of two the detector's
    own block averaging would take anyway (bounded memory on large pictures)."""
    return _imageio.load_rgb(data, min_short_side=budget.ANALYSIS_SIDE)


class _VideoFile:
    """The video bytes in a temporary file, for :func:`provenance.media.video.detect_video`."""

    def __init__(self, data: bytes, media_type: str) -> None:
        suffix = "." + VIDEO_MEDIA_TYPES.get(media_type, "mp4")
        self._dir = tempfile.TemporaryDirectory(prefix="jinjja-recover-")
        self.path = Path(self._dir.name) / ("video" + suffix)
        self.path.write_bytes(data)

    def close(self) -> None:
        self._dir.cleanup()


def detect_watermark(
    data: bytes, media_type: str | None, keys: Sequence[bytes | str] = ()
) -> list[WatermarkFinding]:
    """Look for the project's watermark with the public key and each extra key.

    The false-alarm bound of each detection is multiplied by the number of keys tried
    (``spec/watermark.md`` §10), so trying more keys never raises the false-alarm rate.

    Parameters
    ----------
    data
        The picture or video file.
    media_type
        Its sniffed media type.
    keys
        Extra (private) keys.

    Returns
    -------
    list of WatermarkFinding
        One per key (the public key first); empty when the pixels cannot be decoded or
        the picture is too small.
    """
    return [m.finding for m in _detect(data, media_type, keys)]


def _detect(data: bytes, media_type: str | None, keys: Sequence[bytes | str]) -> list[_Mark]:
    import watermark

    all_keys: list[tuple[str, bytes | str]] = [("public", watermark.PUBLIC_KEY)]
    all_keys += [(f"extra key {i + 1}", k) for i, k in enumerate(keys)]
    video = media_type in VIDEO_MEDIA_TYPES
    pixels = None if video else _image_pixels(data)
    if not video and pixels is None:
        return []
    clip = _VideoFile(data, media_type or "video/mp4") if video else None
    out: list[_Mark] = []
    try:
        for name, key in all_keys:
            try:
                if clip is not None:
                    from provenance.media.video import detect_video

                    det: watermark.Detection = detect_video(
                        clip.path, key, max_frames=MAX_VIDEO_FRAMES
                    )
                else:
                    assert pixels is not None
                    det = watermark.detect(pixels, key)
            except (ValueError, ProvenanceError):
                return out  # too small, undecodable, or PyAV missing
            out.append(_mark(name, det, len(all_keys), video))
    finally:
        if clip is not None:
            clip.close()
    return out


def _mark(name: str, det: Any, keys: int, video: bool) -> _Mark:
    p = min(1.0, det.p_value * keys)
    found = p <= _ALPHA and det.payload is not None and len(det.payload) == 8
    detail: dict[str, Any] = {"keys_tried": keys}
    if video:
        detail["frames"] = int(getattr(det, "frames_used", 0))
    if det.geometry is not None:
        g = det.geometry
        detail["geometry"] = {
            "scale": round(g.scale, 4),
            "rotation": round(g.rotation, 2),
            "flipped": g.flipped,
        }
    finding = WatermarkFinding(
        algorithm=WATERMARK_ALG,
        found=found,
        payload_hex=det.payload.hex() if det.payload is not None and found else None,
        score=float(det.score) if math.isfinite(det.score) else 0.0,
        p_value=float(p),
        key_name=name,
        detail=detail,
    )
    return _Mark(finding, det.payload if found else None)


def _pdq(data: bytes, media_type: str | None) -> Any:
    if media_type is None or not media_type.startswith("image/"):
        return None
    from provenance.matching.pdq import Hashed, hash_bytes

    try:
        result = hash_bytes(data)
    except ProvenanceError:
        return None
    return result if isinstance(result, Hashed) else None


# ------------------------------------------------------------------------------ recovery


@dataclass(frozen=True)
class _Candidate:
    source: _Source
    manifest_id: str
    method: str
    mark: _Mark | None
    similarity: int | None


def _sources(repo: Repository | str | Path | None, resolver: str | None) -> list[_Source]:
    out: list[_Source] = []
    if repo is not None:
        from provenance.durable.repository import Repository

        if isinstance(repo, Repository):
            out.append(LocalSource(repo))
        else:
            out.append(LocalSource(Repository.open(repo), owned=True))
    if resolver is not None:
        out.append(ResolverClient(resolver))
    return out


def _lookup(
    source: _Source,
    found: list[_Mark],
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


def _crop_note(mark: _Mark | None, facts: Mapping[str, Any], info: Any) -> str:
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
    trust: _c2pa.SdkTrust,
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


def _recover(
    base: Report,
    data: bytes,
    *,
    media_type: str | None,
    trust: _c2pa.SdkTrust,
    sources: list[_Source],
    wm_keys: Sequence[bytes | str],
    show_prompts: bool,
) -> Report:
    from provenance.credentials import _c2pa
    from provenance.credentials.chain import build_chain

    notes: list[str] = []
    marks = _detect(data, media_type, wm_keys)
    found = [m for m in marks if m.payload is not None]
    hashed = _pdq(data, media_type)
    candidates: list[_Candidate] = []
    for source in sources:
        try:
            candidates += _lookup(source, found, hashed, data, media_type, notes)
        except ProvenanceError as exc:
            notes.append(f"Lookup in {source.name} failed: {exc.message}")
    seen: set[tuple[str, str]] = set()
    from provenance.media.inspect import inspect_bytes

    try:
        info = inspect_bytes(data)
    except ProvenanceError:
        info = None
    for cand in candidates:
        key = (cand.source.name, cand.manifest_id)
        if key in seen:
            continue
        seen.add(key)
        try:
            store = cand.source.fetch(cand.manifest_id)
        except ProvenanceError as exc:
            notes.append(f"Manifest {cand.manifest_id} could not be fetched: {exc.message}")
            continue
        if store is None:
            notes.append(f"{cand.source.name} lists manifest {cand.manifest_id} but has no store")
            continue
        if media_type is None:
            continue
        try:
            outcome = _c2pa.read_store(data, media_type=media_type, trust=trust, manifest=store)
        except ProvenanceError as exc:
            notes.append(f"Manifest {cand.manifest_id} could not be validated: {exc.message}")
            continue
        if not isinstance(outcome, _c2pa.SdkStore):
            notes.append(f"Manifest {cand.manifest_id} from {cand.source.name} is empty")
            continue
        chain = build_chain(outcome.store, outcome.certificates, active_format=media_type)
        if chain is None:
            notes.append(f"Manifest {cand.manifest_id} names no active manifest")
            continue
        serious = {f.code for f in chain.validated} - UNTRUSTED_CODES - HARD_BINDING_MISMATCH_CODES
        if serious:
            notes.append(
                f"Manifest {cand.manifest_id} from {cand.source.name} was rejected: it does not "
                f"validate ({', '.join(sorted(serious))})."
            )
            continue
        declared = declared_bindings(outcome.store)
        detail: dict[str, Any] = {
            "source_kind": "repository" if isinstance(cand.source, LocalSource) else "resolver"
        }
        lines: list[str] = []
        wm_declared = [b.value for b in declared if b.alg == WATERMARK_ALG]
        if cand.mark is not None:
            if cand.mark.payload not in wm_declared:
                notes.append(
                    f"Manifest {cand.manifest_id} was rejected: it does not declare the "
                    "watermark identifier it was found by."
                )
                continue
            f = cand.mark.finding
            detail.update(
                {
                    "alg": WATERMARK_ALG,
                    "identifier": f.payload_hex,
                    "p_value": f.p_value,
                    "score": round(f.score, 3),
                    "key": f.key_name,
                }
            )
            lines.append(
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
                continue
        fp_declared = [b.value for b in declared if b.alg == FINGERPRINT_ALG and len(b.value) == 32]
        if hashed is not None and fp_declared:
            from provenance.matching.pdq import PdqHash

            dist = min(PdqHash(v, None).distance(q) for v in fp_declared for q in hashed.variants)
            detail["fingerprint_alg"] = FINGERPRINT_ALG
            detail["fingerprint_distance"] = dist
            if dist <= FINGERPRINT_CONSISTENT:
                lines.append(
                    f"The PDQ fingerprint recorded in the manifest is close to this file's "
                    f"(distance {dist} of 256 bits): consistent."
                )
            elif cand.method == "fingerprint":
                notes.append(f"Manifest {cand.manifest_id} fingerprint is too far ({dist}).")
                continue
            elif dist >= FINGERPRINT_UNRELATED:
                lines.append(
                    f"The PDQ fingerprint recorded in the manifest does not match this copy "
                    f"(distance {dist} of 256 bits). PDQ does not survive cropping"
                    + _crop_note(cand.mark, cand.source.facts(cand.manifest_id), info)
                    + "; if the pictures look different, the watermark may have been copied "
                    "onto other content (C2PA §1.2.2.3)."
                )
            else:
                lines.append(
                    f"The PDQ fingerprint recorded in the manifest is some distance from this "
                    f"file's ({dist} of 256 bits), as after cropping or heavy editing."
                )
            if cand.method == "fingerprint":
                detail["alg"] = FINGERPRINT_ALG
                lines.insert(
                    0,
                    f"Found through the PDQ fingerprint (distance {dist} of 256 bits).",
                )
        elif cand.method == "fingerprint":
            notes.append(
                f"Manifest {cand.manifest_id} declares no fingerprint to confirm the match."
            )
            continue
        return _recovered_report(
            base,
            data,
            media_type=media_type,
            cand=cand,
            chain=chain,
            store_json=outcome.store,
            detail=detail,
            lines=lines,
            notes=notes,
            marks=marks,
            facts=cand.source.facts(cand.manifest_id),
            info=info,
            show_prompts=show_prompts,
        )
    # Nothing recovered: keep the base report, add the watermark findings and why.
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
    )


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
    marks: list[_Mark],
    facts: Mapping[str, Any],
    info: Any,
    show_prompts: bool,
) -> Report:
    from provenance.signals.ai import assess_ai

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
    summary = [
        f"Content Credentials recovered from {cand.source.name} (manifest {cand.manifest_id}): "
        "they were not embedded in this file"
        + (
            ""
            if base.verdict is Verdict.NO_CREDENTIALS
            else f" (the embedded ones are {base.verdict.value.lower().replace('_', ' ')})"
        )
        + ".",
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
