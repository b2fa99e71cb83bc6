"""Known-answer round trips for the social-media paths: rotations to 10 degrees with
crop-to-fill, chains of common edits, and pictures down to 256 px; plus the null side
(unmarked pictures and wrong keys are never detected after the same edits)."""

from __future__ import annotations

from collections.abc import Callable

import attacks as at
import numpy as np
import pytest

import watermark

KEY = "robust-test-key"
PAYLOAD = b"\x5e\xc0\x1a\x17\x00\xff\x42\x99"

ROTATIONS = {
    "rotate 10, crop, resize back": at.rotate(10.0),
    "rotate -10, crop-to-fill": at.rotate_fill(-10.0),
    "rotate 7, crop-to-fill": at.rotate_fill(7.0),
}

CHAINS = {
    "rotate 3 + crop left 80 % + JPEG 85": at.chain(
        at.rotate_fill(3.0), at.crop_side(0.8, "left"), at.jpeg(85)
    ),
    "tone + sharpen + WebP 85": at.chain(at.tone(1.1, 0.9), at.sharpen, at.webp(85)),
    "downscale 0.7 + crop top 75 % + JPEG 80": at.chain(
        at.downscale(0.7), at.crop_side(0.75, "top"), at.jpeg(80)
    ),
    "crop bottom 70 % + rotate -4 + JPEG 90 + WebP 90": at.chain(
        at.crop_side(0.7, "bottom"), at.rotate_fill(-4.0), at.jpeg(90), at.webp(90)
    ),
}

SMALL = {
    "downscale to 256 px": at.downscale_to(256),
    "downscale to 256 px + JPEG 85": at.chain(at.downscale_to(256), at.jpeg(85)),
}


@pytest.fixture(scope="module")
def marked(photo: Callable[..., np.ndarray]) -> dict[str, np.ndarray]:
    return {n: np.asarray(watermark.embed(photo(n), PAYLOAD, KEY)) for n in ("astronaut", "coffee")}


def _assert_found(image: np.ndarray) -> None:
    result = watermark.detect(image, KEY)
    assert result.found and result.p_value <= 1e-6
    assert result.payload == PAYLOAD


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
@pytest.mark.parametrize("attack", list(ROTATIONS))
def test_rotation_round_trip(marked: dict[str, np.ndarray], name: str, attack: str) -> None:
    _assert_found(ROTATIONS[attack](marked[name]))


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
@pytest.mark.parametrize("attack", list(CHAINS))
def test_chain_round_trip(marked: dict[str, np.ndarray], name: str, attack: str) -> None:
    _assert_found(CHAINS[attack](marked[name]))


@pytest.mark.parametrize("attack", list(SMALL))
def test_small_round_trip(marked: dict[str, np.ndarray], attack: str) -> None:
    out = SMALL[attack](marked["astronaut"])
    assert min(out.shape[:2]) == 256
    _assert_found(out)


def test_marked_at_256_px_survives_jpeg(photo: Callable[..., np.ndarray]) -> None:
    small = watermark.embed(photo("chelsea", 256), PAYLOAD, KEY)
    _assert_found(at.jpeg(85)(np.asarray(small)))


@pytest.mark.parametrize("attack", ["rotate 7, crop-to-fill", "downscale to 256 px + JPEG 85"])
def test_null_after_edits(
    marked: dict[str, np.ndarray], photo: Callable[..., np.ndarray], attack: str
) -> None:
    edit = {**ROTATIONS, **SMALL}[attack]
    for image, key in ((edit(photo("astronaut")), KEY), (edit(marked["coffee"]), "other key")):
        result = watermark.detect(image, key)
        assert not result.found and result.payload is None and result.p_value > 1e-6
