"""Regenerate ``watermark-v1.json``, the known-answer vector of ``spec/watermark.md``.

Run from the repository root: ``python spec/vectors/gen_watermark_vectors.py``. The output
must not change unless the format version changes (CI runs it and ``git diff --exit-code``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import watermark  # noqa: E402
from watermark import _ecc, _embed, _keys, _layout  # noqa: E402

KEY = "jinjja test vector key"
PAYLOAD = bytes.fromhex("0123456789abcdef")
SIZE = 256


def vector_image() -> np.ndarray:
    """The vector's host image: 256x256 grey, ``rint(128 + 60 sin(x/9) cos(y/13))``."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return np.rint(128 + 60 * np.sin(x / 9) * np.cos(y / 13)).astype(np.uint8)


def build() -> dict[str, object]:
    key = _keys.key_bytes(KEY)
    lay = _layout.layout(key)
    info = _ecc.info_bits(PAYLOAD)
    coded = _ecc.conv_encode(info ^ lay.whiten)
    cells = _embed.tile_cells(key, PAYLOAD)
    image = vector_image()
    marked = watermark.embed(image, PAYLOAD, KEY)
    det = watermark.detect(marked, KEY)
    return {
        "format": "jinjja.watermark/v1",
        "key_utf8": KEY,
        "payload_hex": PAYLOAD.hex(),
        "seed_layout_hex": _keys.seed(key, "layout").hex(),
        "sync_cells_first_16": lay.sync_index[:16].tolist(),
        "chips_first_16": lay.chips.reshape(-1)[:16].astype(int).tolist(),
        "template_frequencies": lay.template.tolist(),
        "info_bits_hex": np.packbits(info).tobytes().hex(),
        "whiten_bits_hex": np.packbits(lay.whiten).tobytes().hex(),
        "coded_bits_hex": np.packbits(coded).tobytes().hex(),
        "tile_cells_sha256": hashlib.sha256((cells > 0).astype(np.uint8).tobytes()).hexdigest(),
        "image": {"size": SIZE, "sha256": hashlib.sha256(image.tobytes()).hexdigest()},
        "expected_detection": {
            "found": det.found,
            "payload_hex": None if det.payload is None else det.payload.hex(),
            "score_min": int(det.score) - 2,  # coarse: stable across platforms
        },
        "unmarked_detection": {"found": watermark.detect(image, KEY).found},
        "profiles": {name: _profile(name) for name in ("robust", "subtle")},
    }


def profile_image() -> np.ndarray:
    """Host of the profile facts: 256x256 grey, flat 128 on the left half and a hard texture
    ``128 + 40 sign(sin(1.3 x) cos(0.7 y))`` on the right half."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    texture = np.rint(128 + 40 * np.sign(np.sin(1.3 * x) * np.cos(0.7 * y)))
    return np.where(x < SIZE // 2, 128, texture).astype(np.uint8)


def _profile(profile: str) -> dict[str, float]:
    """Coarse facts of one embedder profile (section 7): the residual's mean absolute value on
    the flat half and on the textured half of :func:`profile_image` (away from the border)."""
    image = profile_image()
    marked = watermark.embed(image, PAYLOAD, KEY, profile=profile)
    d = np.abs(marked.astype(np.float64) - image)
    return {
        "flat_mean_abs": round(float(d[16:-16, 16:112].mean()), 3),
        "texture_mean_abs": round(float(d[16:-16, 144:-16].mean()), 3),
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("watermark-v1.json")
    out.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {out}")
