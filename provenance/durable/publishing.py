"""Publishing a Durable Content Credential: watermark, sign, store.

A *Durable Content Credential* (C2PA 2.2 §2.4.1) can be found again after a platform strips
the metadata. :func:`publish` makes one:

1. draw a random 64-bit manifest identifier
   (:func:`~provenance.durable.softbinding.new_manifest_id`);
2. embed it with the project's watermark (``spec/watermark.md``; the public key unless a
   private one is given) into the picture's pixels or every video frame;
3. sign the watermarked file with a ``c2pa.watermarked`` action and ``c2pa.soft-binding``
   assertions for the watermark and, for pictures, a PDQ fingerprint
   (:func:`~provenance.durable.softbinding.soft_binding_assertions`);
4. store the manifest store in a manifest repository under the identifier and fingerprint
   (a local :class:`~provenance.durable.repository.Repository` or a resolver server's
   ``POST /manifests``), then write the file.

Algorithm names and value formats: :mod:`provenance.durable.softbinding`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

import watermark
from provenance._atomic import atomic_write
from provenance.credentials.certcheck import load_certificates
from provenance.credentials.sign import SignResult, sign_bytes
from provenance.credentials.trust import eku_config
from provenance.durable.client import RemotePublication, ResolverClient, store_remote
from provenance.durable.detect import detect_watermark
from provenance.durable.repository import Binding, Repository
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    IMAGE_MEDIA_TYPES,
    MAX_PIXELS,
    MIN_SIDE,
    VIDEO_MEDIA_TYPES,
    WATERMARK_ALG,
    manifest_id_hex,
    new_manifest_id,
    soft_binding_assertions,
)
from provenance.errors import InputFileError, ProvenanceError, PublishError
from provenance.matching.pdq import Hashed, hash_bytes
from provenance.media import budget
from provenance.media.inspect import inspect_bytes, read_file, sniff_media_type
from provenance.media.video import VideoError, embed_video
from provenance.urls import redact_url

if TYPE_CHECKING:
    from provenance.credentials.sign import SignerSpec

__all__ = [
    "Published",
    "PublishError",
    "publish",
    "watermark_image_bytes",
    "watermark_video_bytes",
]

_LOSSY_QUALITY: Final = 95


@dataclass(frozen=True)
class Published:
    """What :func:`publish` did for one file."""

    path: Path
    """The signed, watermarked file."""
    manifest_id: str
    """The 64-bit identifier, 16 hex digits; the watermark payload and repository key."""
    manifest_label: str | None
    """Label of the new active manifest (``urn:c2pa:...``)."""
    media_type: str
    """Media type of the written file."""
    fingerprint: str | None
    """PDQ hash (hex) recorded as a soft binding; None for video or flat pictures."""
    psnr: float | None
    """Measured PSNR of the watermarked picture against the input (dB); None for video."""
    repository: str
    """Where the manifest store was stored (path or URL)."""
    signed: SignResult
    """The signing result (algorithm, signer, timestamp, history, parent)."""
    stored_as: str | None = None
    """The identifier the repository keeps it under (a resolver may name it its own way)."""
    receipt: Path | None = None
    """The resolver's receipt, saved beside the output as ``<output>.receipt.json``."""

    def to_dict(self) -> dict[str, Any]:
        """The signing facts (:meth:`SignResult.to_dict`) and a ``watermark`` object."""
        return {
            **self.signed.to_dict(),
            "watermark": {
                "manifest_id": self.manifest_id,
                "fingerprint": self.fingerprint,
                "psnr": round(self.psnr, 2) if self.psnr is not None else None,
                "repository": self.repository,
                "stored_as": self.stored_as,
                "receipt": str(self.receipt) if self.receipt is not None else None,
            },
        }


def _psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


def watermark_image_bytes(
    data: bytes,
    media_type: str,
    ident: bytes,
    *,
    key: bytes | str,
    psnr: float = 40.0,
    profile: str = watermark.DEFAULT_PROFILE,
) -> tuple[bytes, float]:
    """Embed ``ident`` into an encoded picture and re-encode it in the same format.

    The ICC profile and EXIF are kept; JPEG and WebP are written at quality 95, PNG and
    TIFF losslessly; an alpha channel is kept. Metadata other than ICC and EXIF (XMP,
    C2PA) is not carried over: the file is signed afterwards.

    Parameters
    ----------
    data
        The encoded picture.
    media_type
        One of :data:`IMAGE_MEDIA_TYPES`.
    ident
        The 8-byte identifier.
    key
        Watermark key (``watermark.PUBLIC_KEY`` for publicly readable marks).
    psnr
        Target strength (dB).
    profile
        Embedder profile, ``robust`` or ``subtle`` (:func:`watermark.embed`).

    Returns
    -------
    tuple of (bytes, float)
        The watermarked picture and its measured PSNR against the decoded input.

    Raises
    ------
    PublishError
        ``unsupported_format``, ``too_small`` or ``corrupt``.
    """

    fmt = IMAGE_MEDIA_TYPES.get(media_type)
    if fmt is None:
        raise PublishError(
            f"{media_type} pictures cannot be watermarked (use JPEG, PNG, WebP or TIFF)",
            code="unsupported_format",
        )
    rgb, alpha, info = _decode_picture(data)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise PublishError(
            f"the picture is {w}x{h}; the watermark needs at least {MIN_SIDE} px on both sides",
            code="too_small",
        )
    marked = np.asarray(
        watermark.embed(rgb, ident, key, psnr=psnr, profile=profile), dtype=np.uint8
    )
    return _encode_picture(marked, alpha, fmt, info), _psnr(rgb, marked)


def _decode_picture(data: bytes) -> tuple[NDArray[np.uint8], Image.Image | None, dict[str, Any]]:
    """The picture as RGB, its alpha channel (if any) and the ICC profile and EXIF to keep."""
    try:
        im = budget.open_picture(data, limit=min(MAX_PIXELS, budget.max_pixels()))
        with budget.decoding("picture"):
            info: dict[str, Any] = {}
            if im.info.get("icc_profile"):
                info["icc_profile"] = im.info["icc_profile"]
            if im.info.get("exif"):
                info["exif"] = im.info["exif"]
            alpha = None
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                alpha = rgba.getchannel("A")
                rgb = np.asarray(rgba.convert("RGB"), dtype=np.uint8).copy()
            else:
                rgb = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except budget.DecodeError as exc:
        code = "too_large" if exc.code == "too_large" else "corrupt"
        raise PublishError(exc.message, code=code) from None
    return rgb, alpha, info


def _encode_picture(
    marked: NDArray[np.uint8], alpha: Image.Image | None, fmt: str, info: Mapping[str, Any]
) -> bytes:
    """Re-encode in ``fmt`` (alpha kept except in JPEG; lossy formats at quality 95)."""
    out = Image.fromarray(marked, mode="RGB")
    if alpha is not None and fmt != "JPEG":
        out = out.convert("RGBA")
        out.putalpha(alpha)
    opts: dict[str, Any] = dict(info)
    if fmt in ("JPEG", "WEBP"):
        opts["quality"] = _LOSSY_QUALITY
    if fmt == "JPEG":
        opts["subsampling"] = 0
    buf = io.BytesIO()
    out.save(buf, format=fmt, **opts)
    return buf.getvalue()


# -------------------------------------------------------------------------------- video


def watermark_video_bytes(
    data: bytes, media_type: str, ident: bytes, *, key: bytes | str, psnr: float = 40.0
) -> bytes:
    """Embed ``ident`` into every frame of an MP4/MOV video (H.264 at the publisher defaults of
    :func:`provenance.media.video.embed_video`: libx264 preset medium, CRF 23).

    A thin adapter over :func:`provenance.media.video.embed_video`: the luma plane of every frame
    is marked; audio packets, timestamps, rotation and colour tags are kept. Needs PyAV
    (extra ``video``).

    Parameters
    ----------
    data
        The video file.
    media_type
        ``video/mp4`` or ``video/quicktime``.
    ident
        The 8-byte identifier.
    key
        Watermark key.
    psnr
        Target per-frame strength (dB).

    Returns
    -------
    bytes
        The watermarked video.

    Raises
    ------
    PublishError
        ``unsupported_format`` or ``too_small``; :class:`provenance.media.video.VideoError` when
        the video cannot be decoded or PyAV is missing.
    """
    fmt = VIDEO_MEDIA_TYPES.get(media_type)
    if fmt is None:
        raise PublishError(f"{media_type} cannot be watermarked", code="unsupported_format")
    with tempfile.TemporaryDirectory(prefix="jinjja-publish-") as tmp:
        src, dst = Path(tmp) / f"in.{fmt}", Path(tmp) / f"marked.{fmt}"
        src.write_bytes(data)
        try:
            embed_video(src, dst, ident, key, psnr=psnr)
        except ValueError as exc:
            if "px" in str(exc):
                raise PublishError(
                    f"the video is too small for the watermark ({exc})", code="too_small"
                ) from None
            raise PublishError(f"the video could not be watermarked: {exc}") from None
        except VideoError:
            raise
        return dst.read_bytes()


# ------------------------------------------------------------------------------ publish


def _store_remote(
    url: str,
    token: str | None,
    store: bytes,
    bindings: Sequence[tuple[str, bytes]],
    facts: Mapping[str, Any],
) -> RemotePublication:
    return store_remote(ResolverClient(url, token=token), store, bindings, facts=facts)


def _write_atomic(out: Path, data: bytes, *, force: bool) -> None:
    try:
        atomic_write(out, data, overwrite=force)
    except FileExistsError:
        raise PublishError(
            f"{out} exists; use force (--force) to overwrite", code="output_exists"
        ) from None


def _destination(src: Path, dst: Path, *, force: bool) -> Path:
    out = dst / src.name if dst.is_dir() else dst
    if not out.parent.is_dir():
        raise PublishError(f"The output folder {out.parent} does not exist", code="output_dir")
    if out.resolve() == src.resolve():
        raise PublishError(
            f"{out} is the input; publishing writes a new file", code="output_is_input"
        )
    if out.exists() and not force:
        raise PublishError(f"{out} exists; use force (--force) to overwrite", code="output_exists")
    return out


def _has_credentials(data: bytes, media_type: str) -> bool:
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    try:
        outcome = _c2pa.read_store(
            data, media_type=media_type, trust=_c2pa.SdkTrust("", eku_config())
        )
    except ProvenanceError:
        return False
    return isinstance(outcome, _c2pa.SdkStore)


def _refuse_marked(data: bytes, media_type: str, key: bytes | str) -> None:
    """Refuse input that already carries a mark of the same key (two would collide)."""
    public = key == _public_key()
    for finding in detect_watermark(data, media_type, [] if public else [key]):
        if finding.found and (finding.key_name == "public") == public:
            raise PublishError(
                f"the input already carries a watermark of this key (identifier "
                f"{finding.payload_hex}); a second one would make both unreadable. Publish "
                "the unmarked original, or look the identifier up instead.",
                code="already_watermarked",
            )


def _public_key() -> bytes:

    return watermark.PUBLIC_KEY


# Over 60 lines only for its public keyword signature and docstring; the body is ~42 lines.
def publish(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    signer: SignerSpec,
    repository: Repository | None = None,
    repo_url: str | None = None,
    token: str | None = None,
    wm_key: bytes | str | None = None,
    psnr: float = 40.0,
    wm_profile: str = watermark.DEFAULT_PROFILE,
    title: str | None = None,
    action: str | None = None,
    source_type: str | None = None,
    author: str | None = None,
    manifest: Mapping[str, Any] | None = None,
    assertions: Sequence[Mapping[str, Any]] = (),
    trust_anchors: Sequence[str | os.PathLike[str] | bytes] = (),
    force: bool = False,
) -> Published:
    """Watermark, sign and store one file: the full publish step.

    The manifest store is stored (and committed) in the repository *before* the file is
    written, so every file that exists can be recovered.

    Parameters
    ----------
    src, dst
        Input file and output file (or existing folder). Never in place.
    signer
        Who signs (:class:`provenance.credentials.sign.SignerSpec`).
    repository
        A local manifest repository to store into.
    repo_url
        Or a resolver: any Soft Binding Resolution API 2.4 server (discovery, then
        ``POST /manifests`` and ``POST /bindings``; its receipt is saved beside the output
        as ``<output>.receipt.json``), or an older ``verify serve --allow-writes``.
    token
        Bearer token for ``repo_url``.
    wm_key
        Private watermark key; default the public key (anyone can read the identifier).
    psnr
        Watermark strength (dB, 20-60).
    wm_profile
        Pictures: the watermark's embedder profile, ``robust`` (default) or ``subtle``
        (:func:`watermark.embed`).
    title, action, source_type, author, manifest, assertions, trust_anchors, force
        As for :func:`provenance.credentials.sign.sign_file`. When the input already has Content
        Credentials they become the parent (history kept).

    Returns
    -------
    Published
        The identifier, fingerprint and where everything went.

    Raises
    ------
    PublishError
        Bad format, too small, output exists, no repository given.
    ProvenanceError
        Signing or storing failed (certificate problems, repository or server errors).
    """
    src_path, data, media_type, out = _inputs(src, dst, repository, repo_url, force=force)
    m = _mark_new(data, media_type, repository, wm_key, psnr, wm_profile)
    parent = data if _has_credentials(data, media_type) else None
    signed, store = sign_bytes(
        m.data,
        media_type,
        signer=signer,
        title=title if title is not None else out.name,
        action=action,
        source_type=source_type,
        parent=parent,
        author=author,
        manifest=manifest,
        assertions=[*assertions, *m.bindings],
        trust_anchors=trust_anchors,
    )
    summary = _c2pa_summary(store)
    facts = _facts(signed, out, media_type, title, summary)
    mid = manifest_id_hex(m.ident)
    pairs = _binding_pairs(m.ident, m.fingerprint)
    stored = _store(store, mid, pairs, facts, repository=repository, url=repo_url, token=token)
    _write_atomic(out, signed, force=force)
    receipt_path = _save_receipt(out, stored.receipt)
    parent_name = src_path.name if parent is not None else None
    return Published(
        path=out,
        manifest_id=mid,
        manifest_label=facts["label"],
        media_type=media_type,
        fingerprint=m.fingerprint.hex() if m.fingerprint is not None else None,
        psnr=m.psnr,
        repository=stored.where,
        stored_as=stored.manifest_id,
        receipt=receipt_path,
        signed=_sign_result(out, store, media_type, facts["label"], signer, summary, parent_name),
    )


def _inputs(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    repository: Repository | None,
    repo_url: str | None,
    *,
    force: bool,
) -> tuple[Path, bytes, str, Path]:
    """Check that one repository is given; read the source; the output path."""
    if (repository is None) == (repo_url is None):
        raise PublishError(
            "give exactly one manifest repository (a local file or a server URL)",
            code="no_repository",
        )
    src_path, data, media_type = _read_source(Path(src))
    return src_path, data, media_type, _destination(src_path, Path(dst), force=force)


@dataclass(frozen=True)
class _Marked:
    ident: bytes
    data: bytes
    psnr: float | None
    fingerprint: bytes | None
    bindings: list[dict[str, Any]]


def _mark_new(
    data: bytes,
    media_type: str,
    repository: Repository | None,
    wm_key: bytes | str | None,
    psnr: float,
    profile: str = watermark.DEFAULT_PROFILE,
) -> _Marked:
    """Mark the input with a fresh identifier; the soft-binding assertions that name it."""
    key: bytes | str = wm_key if wm_key is not None else watermark.PUBLIC_KEY
    key_name = "public" if wm_key is None else "private"
    ident = _new_identifier(repository)
    _refuse_marked(data, media_type, key)
    marked, measured, fingerprint = _mark(
        data, media_type, ident, key=key, psnr=psnr, profile=profile
    )
    bindings = soft_binding_assertions(ident, fingerprint=fingerprint, key_name=key_name)
    return _Marked(ident, marked, measured, fingerprint, bindings)


def _new_identifier(repository: Repository | None) -> bytes:
    """A fresh manifest identifier, unused in ``repository`` when one is given."""
    taken = repository.info if repository is not None else None
    return new_manifest_id((lambda h: taken(h) is not None) if taken is not None else None)


def _facts(
    signed: bytes, out: Path, media_type: str, title: str | None, summary: _StoreSummary
) -> dict[str, Any]:
    """What the repository records about the published file."""
    info = inspect_bytes(signed, name=out.name)
    return {
        "label": str(summary.label) if summary.label else None,
        "media_type": media_type,
        "title": title if title is not None else out.name,
        "sha256": hashlib.sha256(signed).hexdigest(),
        "width": info.width,
        "height": info.height,
    }


def _binding_pairs(ident: bytes, fingerprint: bytes | None) -> list[tuple[str, bytes]]:
    """The soft bindings to store: the watermark identifier, and the fingerprint if any."""
    pairs = [(WATERMARK_ALG, ident)]
    if fingerprint is not None:
        pairs.append((FINGERPRINT_ALG, fingerprint))
    return pairs


def _sign_result(
    out: Path,
    store: bytes,
    media_type: str,
    label: str | None,
    signer: SignerSpec,
    summary: _StoreSummary,
    parent: str | None,
) -> SignResult:
    return SignResult(
        path=out,
        manifest_bytes=len(store),
        media_type=media_type,
        manifest_label=label,
        alg=signer.alg,
        signer=load_certificates(signer.cert_chain_pem)[0].subject.rfc4514_string(),
        timestamp=summary.time,
        history=summary.history,
        parent=parent,
    )


def _read_source(src_path: Path) -> tuple[Path, bytes, str]:
    """The input's bytes and media type; only pictures and videos can be published."""
    data = read_file(src_path)
    media_type = sniff_media_type(data[:512], name=src_path.name)
    if media_type not in IMAGE_MEDIA_TYPES and media_type not in VIDEO_MEDIA_TYPES:
        raise InputFileError(
            f"{src_path.name} is {media_type or 'not a picture or video'}; publishing "
            "supports JPEG, PNG, WebP, TIFF, MP4 and MOV",
            code="unsupported_format",
        )
    return src_path, data, media_type


def _mark(
    data: bytes,
    media_type: str,
    ident: bytes,
    *,
    key: bytes | str,
    psnr: float,
    profile: str = watermark.DEFAULT_PROFILE,
) -> tuple[bytes, float | None, bytes | None]:
    """The watermarked content, its measured PSNR and (pictures) its PDQ fingerprint."""
    if media_type not in IMAGE_MEDIA_TYPES:
        return watermark_video_bytes(data, media_type, ident, key=key, psnr=psnr), None, None
    marked, measured = watermark_image_bytes(
        data, media_type, ident, key=key, psnr=psnr, profile=profile
    )
    hashed = hash_bytes(marked)
    fingerprint = hashed.hash.digest if isinstance(hashed, Hashed) else None
    return marked, measured, fingerprint


@dataclass(frozen=True)
class _StoreSummary:
    label: str | None
    time: str | None
    history: int


def _c2pa_summary(store: bytes) -> _StoreSummary:
    """Active manifest label, signing time and history length of a signed store."""
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    summary = _c2pa.store_summary(store)
    label = summary.get("active_manifest")
    manifests = summary.get("manifests")
    active = manifests.get(label, {}) if isinstance(manifests, Mapping) and label else {}
    sig = active.get("signature_info", {}) if isinstance(active, Mapping) else {}
    return _StoreSummary(
        label=str(label) if label else None,
        time=str(sig["time"]) if isinstance(sig, Mapping) and sig.get("time") else None,
        history=len(manifests) if isinstance(manifests, Mapping) else 1,
    )


@dataclass(frozen=True)
class _Stored:
    where: str
    """The repository's path or the resolver's URL."""
    manifest_id: str
    """The identifier it is stored under."""
    receipt: Mapping[str, Any] | None
    """The resolver's receipt, if it gave one."""


def _store(
    store: bytes,
    mid: str,
    pairs: list[tuple[str, bytes]],
    facts: dict[str, Any],
    *,
    repository: Repository | None,
    url: str | None,
    token: str | None,
) -> _Stored:
    """Store the manifest store locally or through a resolver."""
    if repository is not None:
        bindings = [Binding(alg, value) for alg, value in pairs]
        repository.put(store, manifest_id=mid, bindings=bindings, **facts)
        return _Stored(str(repository.path), mid, None)
    assert url is not None
    remote = _store_remote(url, token, store, pairs, facts)
    return _Stored(redact_url(url), remote.manifest_id, remote.receipt)


def _save_receipt(out: Path, receipt: Mapping[str, Any] | None) -> Path | None:
    """Write a resolver's receipt beside the output as ``<output>.receipt.json``."""
    if receipt is None:
        return None
    path = out.with_name(out.name + ".receipt.json")
    text = json.dumps(receipt, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    _write_atomic(path, text.encode(), force=True)
    return path
