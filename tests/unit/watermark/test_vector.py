"""The known-answer vector of spec/watermark.md (spec/vectors/watermark-v1.json)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import watermark
from watermark import _ecc, _embed, _keys, _layout

SPEC = Path(__file__).resolve().parents[3] / "spec" / "vectors"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen", SPEC / "gen_watermark_vectors.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_vector() -> None:
    vec = json.loads((SPEC / "watermark-v1.json").read_text())
    gen = _generator()
    key = _keys.key_bytes(vec["key_utf8"])
    payload = bytes.fromhex(vec["payload_hex"])
    lay = _layout.layout(key)
    assert _keys.seed(key, "layout").hex() == vec["seed_layout_hex"]
    assert lay.sync_index[:16].tolist() == vec["sync_cells_first_16"]
    assert lay.chips.reshape(-1)[:16].astype(int).tolist() == vec["chips_first_16"]
    assert lay.template.tolist() == vec["template_frequencies"]
    info = _ecc.info_bits(payload)
    assert np.packbits(info).tobytes().hex() == vec["info_bits_hex"]
    assert np.packbits(lay.whiten).tobytes().hex() == vec["whiten_bits_hex"]
    coded = _ecc.conv_encode(info ^ lay.whiten)
    assert np.packbits(coded).tobytes().hex() == vec["coded_bits_hex"]
    cells = _embed.tile_cells(key, payload)
    digest = hashlib.sha256((cells > 0).astype(np.uint8).tobytes()).hexdigest()
    assert digest == vec["tile_cells_sha256"]
    image = gen.vector_image()
    assert hashlib.sha256(image.tobytes()).hexdigest() == vec["image"]["sha256"]
    det = watermark.detect(watermark.embed(image, payload, vec["key_utf8"]), vec["key_utf8"])
    assert det.found == vec["expected_detection"]["found"]
    assert det.payload is not None and det.payload.hex() == vec["expected_detection"]["payload_hex"]
    assert det.score >= vec["expected_detection"]["score_min"]
    assert watermark.detect(image, vec["key_utf8"]).found == vec["unmarked_detection"]["found"]
    for name, facts in vec["profiles"].items():
        got = gen._profile(name)
        for field, want in facts.items():
            assert got[field] == pytest.approx(want, rel=0.02), (name, field)
