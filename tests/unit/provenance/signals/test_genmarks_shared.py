"""Generator watermarks on the shared photo set (``$JINJJA_SHARED/images``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provenance.signals.genmarks import detect_generator_marks, scan_generator_marks

pytestmark = pytest.mark.shared


def photos(shared_dir: Path) -> list[tuple[str, np.ndarray]]:
    paths = sorted((shared_dir / "images").rglob("*.png"))
    assert len(paths) >= 16
    return [(p.name, np.asarray(Image.open(p).convert("RGB"))) for p in paths]


def test_shared_photos_never_flagged(shared_dir: Path) -> None:
    for name, rgb in photos(shared_dir):
        results = scan_generator_marks(rgb)
        assert len(results) == 12 and not [m for m in results if m.detected], name


def test_shared_photos_marked_like_sdxl_are_mostly_found(shared_dir: Path) -> None:
    from test_genmarks import pipeline  # the reference encoder, used as SDXL uses it

    pictures = [(n, rgb) for n, rgb in photos(shared_dir) if rgb.shape[0] <= 512]
    found = {"float": 0, "uint8": 0}
    for _name, rgb in pictures:
        saved, _ = pipeline(rgb, "SDXL", "generative-models")
        for m in detect_generator_marks(saved):
            assert m.key == "SDXL"
            found[m.domain] += m.channel_order == "BGR"
    assert found["float"] >= 0.6 * len(pictures) and found["float"] > found["uint8"]
