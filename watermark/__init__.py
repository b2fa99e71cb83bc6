"""Robust keyed invisible image watermark: :func:`embed` and :func:`detect`.

A 64-bit payload is spread over a keyed periodic pattern in luma, resynchronised from the
pattern's own lattice, and decided with a provable false-alarm bound. The format is specified
in ``spec/watermark.md``.
"""

from watermark._api import Detection, Geometry, detect, embed
from watermark._embed import DEFAULT_PROFILE
from watermark._embed import PROFILE_NAMES as PROFILES
from watermark._keys import PUBLIC_KEY
from watermark._video import detect_frames, embed_frames

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "PUBLIC_KEY",
    "Detection",
    "Geometry",
    "detect",
    "detect_frames",
    "embed",
    "embed_frames",
]
