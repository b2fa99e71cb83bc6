"""Fingerprints of reference media, and matching served media against them.

A case keeps only fingerprints of its references, never the files: the SHA-256, the PDQ hash
of the picture (or of sampled video frames) and, when a watermark key is given, the payload of
the project's watermark. Served media match by exact SHA-256, by PDQ over the 8
rotations/flips of the served picture at the bank's default distance
(:data:`provenance.matching.MATCH_MAX`), by the same watermark payload, or (videos) by
sampled frames whose PDQ matches a reference frame or picture.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ImageOps

import watermark
from provenance.errors import InputFileError, ProvenanceError
from provenance.matching.bank import MATCH_MAX
from provenance.matching.pdq import Hashed, PdqHash, hash_bytes, hash_video
from provenance.media import budget
from provenance.media.inspect import inspect_bytes, read_file
from provenance.monitor.model import Match, MonitorError

__all__ = ["Matcher", "Reference", "fingerprint_bytes", "fingerprint_file"]

VIDEO_FPS = 1.0
"""Frames sampled per second of video, for references and served videos alike."""
VIDEO_MAX_FRAMES = 600
"""At most this many sampled frames per video."""
_PICTURES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff"})


@dataclass(frozen=True)
class Reference:
    """The fingerprints of one reference picture or video (never its pixels)."""

    name: str
    """How the reference is named in matches (its file name when added)."""
    kind: str
    """``picture`` or ``video``."""
    sha256: str
    """SHA-256 of the file."""
    pdq: str | None
    """PDQ hash (64 hex digits) of the picture; None for videos and flat pictures."""
    watermark: str | None = None
    """Payload (hex) of the project's watermark, when a key was given and the mark found."""
    frames: tuple[str, ...] = ()
    """PDQ hashes of the video's sampled frames that are reliable enough to match."""


def _decode_pixels(data: bytes) -> np.ndarray | None:
    """Pixels within the decode budget; None when refused or undecodable (no mark to read)."""
    try:
        image = budget.open_picture(data)
        with budget.decoding("picture"):
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)
    except budget.DecodeError:
        return None


def _payload(data: bytes, key: bytes | str | None) -> str | None:
    if key is None:
        return None
    pixels = _decode_pixels(data)
    if pixels is None or min(pixels.shape[:2]) < 128:
        return None
    found = watermark.detect(pixels, key)
    return found.payload.hex() if found.found and found.payload is not None else None


def fingerprint_bytes(data: bytes, name: str, *, wm_key: bytes | str | None = None) -> Reference:
    """Fingerprint a reference picture or video given as bytes.

    Raises
    ------
    MonitorError
        ``bad_reference`` when the bytes are neither a decodable picture nor a video.
    """
    try:
        info = inspect_bytes(data, name=name)
    except InputFileError as exc:
        raise MonitorError(f"{name}: {exc.message}", code="bad_reference") from None
    if info.media_type in _PICTURES:
        try:
            result = hash_bytes(data)
        except ProvenanceError as exc:
            raise MonitorError(f"{name}: {exc.message}", code="bad_reference") from None
        pdq = result.hash.hex if isinstance(result, Hashed) else None
        return Reference(name, "picture", info.sha256, pdq, _payload(data, wm_key))
    if info.media_type is not None and info.media_type.startswith("video/"):
        try:
            video = hash_video(data, fps=VIDEO_FPS, max_frames=VIDEO_MAX_FRAMES)
        except ProvenanceError as exc:
            raise MonitorError(f"{name}: {exc.message}", code="bad_reference") from None
        frames = tuple(
            dict.fromkeys(f.result.hash.hex for f in video.frames if isinstance(f.result, Hashed))
        )
        return Reference(name, "video", info.sha256, None, None, frames)
    raise MonitorError(f"{name}: not a picture or video", code="bad_reference")


def fingerprint_file(path: str | Path, *, wm_key: bytes | str | None = None) -> Reference:
    """Fingerprint a reference file (see :func:`fingerprint_bytes`)."""
    p = Path(path)
    try:
        data = read_file(p)
    except InputFileError as exc:
        raise MonitorError(f"{p}: {exc.message}", code="bad_reference") from None
    return fingerprint_bytes(data, p.name, wm_key=wm_key)


class Matcher:
    """Matches served media against a case's references.

    Parameters
    ----------
    refs
        The case's references.
    wm_key
        Watermark key; the watermark is looked for only when given and some reference has a
        payload.
    max_distance
        Largest PDQ distance that matches (the bank default, 31).
    """

    def __init__(
        self,
        refs: Sequence[Reference],
        *,
        wm_key: bytes | str | None = None,
        max_distance: int = MATCH_MAX,
    ) -> None:
        self.refs = tuple(refs)
        self.max_distance = max_distance
        self._sha = {r.sha256: r.name for r in self.refs}
        self._pdq = [
            (PdqHash(bytes.fromhex(h), None), r.name)
            for r in self.refs
            for h in ((r.pdq,) if r.pdq else r.frames)
        ]
        self._payloads = {r.watermark: r.name for r in self.refs if r.watermark}
        self._wm_key = wm_key if self._payloads else None

    def _closest(self, variants: Iterable[PdqHash]) -> tuple[int, str] | None:
        best: tuple[int, str] | None = None
        for v in variants:
            for ref_hash, name in self._pdq:
                d = v.distance(ref_hash)
                if best is None or d < best[0]:
                    best = (d, name)
        return best if best is not None and best[0] <= self.max_distance else None

    def match(self, data: bytes, media_url: str) -> tuple[Match | None, str | None]:
        """Match one served file; return the match (or None) and a note when unreadable."""
        sha = hashlib.sha256(data).hexdigest()
        if sha in self._sha:
            return Match(media_url, sha, "sha256", 0, self._sha[sha]), None
        try:
            info = inspect_bytes(data)
        except InputFileError as exc:
            return None, f"{media_url}: {exc.message}"
        if info.media_type in _PICTURES:
            return self._picture(data, sha, media_url)
        if info.media_type is not None and info.media_type.startswith("video/"):
            return self._video(data, sha, media_url)
        return None, None

    def _picture(self, data: bytes, sha: str, url: str) -> tuple[Match | None, str | None]:
        try:
            result = hash_bytes(data)
        except ProvenanceError as exc:
            return None, f"{url}: {exc.message}"
        if isinstance(result, Hashed):
            best = self._closest(result.variants)
            if best is not None:
                return Match(url, sha, "pdq", best[0], best[1]), None
        payload = _payload(data, self._wm_key)
        if payload is not None and payload in self._payloads:
            return Match(url, sha, "watermark", None, self._payloads[payload]), None
        return None, None

    def _video(self, data: bytes, sha: str, url: str) -> tuple[Match | None, str | None]:
        try:
            video = hash_video(data, fps=VIDEO_FPS, max_frames=VIDEO_MAX_FRAMES)
        except ProvenanceError as exc:
            return None, f"{url}: {exc.message}"
        best: tuple[int, str] | None = None
        for frame in video.hashable:
            assert isinstance(frame.result, Hashed)
            found = self._closest(frame.result.variants)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        if best is None:
            return None, None
        return Match(url, sha, "video_pdq", best[0], best[1]), None
