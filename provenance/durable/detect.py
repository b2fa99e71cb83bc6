"""Looking for soft bindings in content: the watermark (with each key) and the PDQ hash.

Used by recovery (:mod:`provenance.durable.recovery`), by publishing (to refuse content
that already carries a mark) and by the resolution server's ``/matches/byContent``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from provenance.durable.softbinding import (
    VIDEO_MEDIA_TYPES,
    WATERMARK_ALG,
)
from provenance.errors import ProvenanceError
from provenance.media.budget import ANALYSIS_SIDE
from provenance.report import (
    WatermarkFinding,
)

if TYPE_CHECKING:
    pass

__all__ = ["MAX_VIDEO_FRAMES", "Mark", "content_pdq", "detect_watermark", "find_marks"]

MAX_VIDEO_FRAMES: Final = 48
"""Video frames analysed for the watermark (the first ones)."""
_ALPHA: Final = 1e-6


@dataclass(frozen=True)
class Mark:
    """One key's watermark search: the report finding and the payload when found."""

    finding: WatermarkFinding
    payload: bytes | None


def _image_pixels(data: bytes) -> NDArray[np.uint8] | None:
    """The pixels for the watermark detector, reduced by the power of two the detector's
    own block averaging would take anyway (bounded memory on large pictures)."""
    # lazy: SciPy and Pillow plugins, ~0.7 s at start-up
    from provenance.media._imageio import (
        load_rgb,  # lazy: SciPy and Pillow plugins, ~0.7 s at start-up
    )

    return load_rgb(data, min_short_side=ANALYSIS_SIDE)


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
    return [m.finding for m in find_marks(data, media_type, keys)]


def find_marks(data: bytes, media_type: str | None, keys: Sequence[bytes | str]) -> list[Mark]:
    """The watermark search with the public key, then each extra key (stops at the first
    key the content cannot be searched with)."""
    import watermark  # lazy: the watermark core (NumPy/SciPy), ~0.3 s at start-up

    all_keys: list[tuple[str, bytes | str]] = [("public", watermark.PUBLIC_KEY)]
    all_keys += [(f"extra key {i + 1}", k) for i, k in enumerate(keys)]
    video = media_type in VIDEO_MEDIA_TYPES
    pixels = None if video else _image_pixels(data)
    if not video and pixels is None:
        return []
    clip = _VideoFile(data, media_type or "video/mp4") if video else None
    out: list[Mark] = []
    try:
        for name, key in all_keys:
            try:
                if clip is not None:
                    # lazy: video I/O, only for videos
                    from provenance.media.video import (
                        detect_video,  # lazy: video I/O, only for videos
                    )

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


def _mark(name: str, det: Any, keys: int, video: bool) -> Mark:
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
    return Mark(finding, det.payload if found else None)


def content_pdq(data: bytes, media_type: str | None) -> Any:
    """The PDQ hashes of a picture (a ``Hashed``), or None for video or undecodable data."""
    if media_type is None or not media_type.startswith("image/"):
        return None
    from provenance.matching.pdq import (  # lazy: banks only when asked for (~70 ms)
        Hashed,
        hash_bytes,
    )

    try:
        result = hash_bytes(data)
    except ProvenanceError:
        return None
    return result if isinstance(result, Hashed) else None
