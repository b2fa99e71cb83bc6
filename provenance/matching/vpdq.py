"""vPDQ: video hashes with Meta's reference implementation, matched with HMA's semantics.

A vPDQ hash is a list of frame features (PDQ hash, quality, timestamp), one per second by
default, computed by the ``vpdq`` package (Meta's C++ code, built against FFmpeg's libav*
libraries). Its exchange form is python-threatexchange's signal string: a JSON list of
``"HEX,QUALITY,SECONDS"`` strings (the seconds written with 3 significant digits, as pytx
writes them), which this module reads and writes unchanged.

Two videos are compared the way HMA's vPDQ index does (``vpdq_index.py``): both sides are
deduplicated (one feature per distinct hash) and frames below quality 50 dropped; a frame
matches when some frame of the other video is within distance 31.
``query_match_percent`` is the share of the query's frames that match,
``compared_match_percent`` the share of the banked video's frames that match. A match
needs ``query_match_percent >= 80`` and ``compared_match_percent >= 0`` by default (HMA's
``VPDQ_QUERY_MATCH_THRESHOLD_PERCENT`` and ``VPDQ_INDEX_MATCH_THRESHOLD_PERCENT``): a
trimmed copy matches the full video it was cut from.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from provenance.matching.hamming import FlatIndex, pack
from provenance.matching.pdq import PdqError
from provenance.media import budget

__all__ = [
    "COMPARED_MATCH_PERCENT",
    "DISTANCE",
    "QUALITY",
    "QUERY_MATCH_PERCENT",
    "VpdqFeature",
    "VpdqHash",
    "compare",
    "hash_video_vpdq",
    "vpdq_available",
]

QUALITY: Final = 50
"""Frames below this PDQ quality are ignored (HMA ``VPDQ_QUALITY_THRESHOLD``)."""
DISTANCE: Final = 31
"""Frame match distance (HMA ``VPDQ_DISTANCE_THRESHOLD``)."""
QUERY_MATCH_PERCENT: Final = 80.0
"""Default query-match threshold (HMA ``VPDQ_QUERY_MATCH_THRESHOLD_PERCENT``)."""
COMPARED_MATCH_PERCENT: Final = 0.0
"""Default compared-match threshold (HMA ``VPDQ_INDEX_MATCH_THRESHOLD_PERCENT``)."""
MISSING: Final = (
    "vPDQ needs the 'vpdq' package, which is built from source against FFmpeg: install "
    "cmake, pkg-config and the libavcodec, libavformat, libavutil, libswscale and "
    "libavdevice development packages (Debian: apt-get install cmake pkg-config "
    "libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavdevice-dev), "
    "then pip install vpdq"
)


@dataclass(frozen=True)
class VpdqFeature:
    """One sampled frame: its PDQ hash, quality and time."""

    pdq_hex: str
    """64 lowercase hex digits."""
    quality: int
    """PDQ quality 0-100."""
    timestamp: float
    """Seconds from the start."""

    def __str__(self) -> str:
        # python-threatexchange's VpdqCompactFeature.__str__, kept as it is for exchange.
        return f"{self.pdq_hex},{self.quality},{self.timestamp:.3}"


@dataclass(frozen=True)
class VpdqHash:
    """A video's vPDQ hash (and the MD5 of the file, which StopNCII and NCMEC exchange)."""

    features: tuple[VpdqFeature, ...]
    md5: str | None = None

    def to_signal(self) -> str:
        """The pytx / HMA signal string (JSON list of ``"HEX,QUALITY,SECONDS"``)."""
        return json.dumps([str(f) for f in self.features])

    @classmethod
    def from_signal(cls, signal: str, *, md5: str | None = None) -> VpdqHash:
        """Parse a pytx / HMA vPDQ signal string.

        Raises
        ------
        ValueError
            When it is not a JSON list of ``"HEX,QUALITY,SECONDS"`` with a 64-hex-digit
            hash, a quality 0-100 and a time of at least 0.
        """
        items = json.loads(signal or "[]")
        if not isinstance(items, list):
            raise ValueError("a vPDQ signal is a JSON list")
        out = []
        for item in items:
            parts = str(item).split(",")
            if len(parts) != 3 or len(parts[0]) != 64:
                raise ValueError(f"invalid vPDQ feature: {item!r}")
            int(parts[0], 16)
            quality, ts = int(parts[1]), float(parts[2])
            if not 0 <= quality <= 100 or ts < 0:
                raise ValueError(f"invalid vPDQ feature: {item!r}")
            out.append(VpdqFeature(parts[0].lower(), quality, ts))
        return cls(tuple(out), md5)

    def prepared(self) -> tuple[VpdqFeature, ...]:
        """Deduplicated (first feature of each hash), then frames of quality >= 50."""
        seen: set[str] = set()
        out = []
        for f in self.features:
            if f.pdq_hex not in seen:
                seen.add(f.pdq_hex)
                out.append(f)
        return tuple(f for f in out if f.quality >= QUALITY)

    def codes(self) -> npt.NDArray[np.uint64]:
        """Packed hashes of :meth:`prepared`."""
        return pack(bytes.fromhex(f.pdq_hex) for f in self.prepared())


def vpdq_available() -> bool:
    """Whether the ``vpdq`` package can be imported."""
    try:
        import vpdq  # noqa: F401  (optional: built from source against FFmpeg)
    except ImportError:
        return False
    return True


def hash_video_vpdq(source: str | Path | bytes, *, seconds_per_hash: float = 1.0) -> VpdqHash:
    """Hash a video with vPDQ (one frame per ``seconds_per_hash``), and its MD5.

    Parameters
    ----------
    source
        Path of the video, or its bytes (written to a temporary file: vpdq reads files).
    seconds_per_hash
        Sampling interval.

    Returns
    -------
    VpdqHash
        The features in time order.

    Raises
    ------
    PdqError
        ``missing_dependency`` when vpdq is not installed (the message says what to
        install); ``corrupt`` when nothing could be decoded.
    """
    try:
        import vpdq  # optional: built from source against FFmpeg's libav*
    except ImportError:
        raise PdqError(MISSING, code="missing_dependency") from None
    if isinstance(source, bytes):
        fd, tmp = tempfile.mkstemp(suffix=".video")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(source)
            return _compute(vpdq, Path(tmp), seconds_per_hash, hashlib.md5(source).hexdigest())
        finally:
            Path(tmp).unlink(missing_ok=True)
    p = Path(source)
    md5 = hashlib.md5()
    with p.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            md5.update(block)
    return _compute(vpdq, p, seconds_per_hash, md5.hexdigest())


def _compute(vpdq: Any, path: Path, seconds_per_hash: float, md5: str) -> VpdqHash:
    try:
        with budget.native_messages(None):  # the extension prints its errors on stderr itself
            raw = vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash)
    except Exception as exc:  # the extension raises plain exceptions for undecodable input
        raise PdqError(f"vPDQ could not decode the video: {exc}", code="corrupt") from None
    features = tuple(
        VpdqFeature(str(f.hex).lower(), int(f.quality), round(float(f.timestamp), 3)) for f in raw
    )
    if not features:
        raise PdqError("vPDQ found no frames in the video", code="corrupt")
    return VpdqHash(features, md5)


def compare(query: VpdqHash, compared: VpdqHash) -> tuple[float, float]:
    """HMA's vPDQ comparison: ``(query_match_percent, compared_match_percent)``.

    Returns ``(0.0, 0.0)`` when either side has no frame of quality 50 or more.
    """
    q, c = query.codes(), compared.codes()
    if len(q) == 0 or len(c) == 0:
        return 0.0, 0.0
    d = FlatIndex(c).distances(q) <= DISTANCE
    return float(d.any(axis=1).sum() * 100 / len(q)), float(d.any(axis=0).sum() * 100 / len(c))
