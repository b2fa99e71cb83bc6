"""Known-answer round trips (embed -> attack -> detect), dtypes, shapes and errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from attacks import ATTACKS

import watermark

KEY = "unit-test-key"
PAYLOAD = b"\x10\x32\x54\x76\x98\xba\xdc\xfe"


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(peak**2 / mse)


@pytest.fixture(scope="module")
def marked_astronaut(photo: Callable[..., np.ndarray]) -> np.ndarray:
    return np.asarray(watermark.embed(photo("astronaut"), PAYLOAD, KEY))


def test_embed_keeps_shape_dtype_and_quality(
    marked_astronaut: np.ndarray, photo: Callable[..., np.ndarray]
) -> None:
    img = photo("astronaut")
    assert marked_astronaut.shape == img.shape and marked_astronaut.dtype == np.uint8
    assert 40.0 <= psnr(img, marked_astronaut) < 41.0


@pytest.mark.parametrize(
    "attack", ["none", "jpeg50", "crop50", "hflip", "resize0.75", "rot2", "noise5"]
)
def test_round_trip_under_attack(marked_astronaut: np.ndarray, attack: str) -> None:
    result = watermark.detect(ATTACKS[attack](marked_astronaut), KEY)
    assert result.found
    assert result.payload == PAYLOAD
    assert result.p_value <= 1e-6


@pytest.mark.parametrize(
    ("name", "attack"), [("camera", "jpeg75"), ("coffee", "webp75"), ("chelsea", "screenshot")]
)
def test_round_trip_other_photos(name: str, attack: str, photo: Callable[..., np.ndarray]) -> None:
    img = photo(name)
    marked = np.asarray(watermark.embed(img, b"photo", KEY))
    assert watermark.detect(ATTACKS[attack](marked), KEY).payload == b"photo"


def test_geometry_reports_flip_and_scale(marked_astronaut: np.ndarray) -> None:
    g = watermark.detect(ATTACKS["hflip"](marked_astronaut), KEY).geometry
    assert g is not None and g.flipped and abs(g.scale - 1.0) < 0.01
    g = watermark.detect(ATTACKS["resize0.75"](marked_astronaut), KEY).geometry
    assert g is not None and not g.flipped and abs(g.scale - 0.75) < 0.02


def test_geometry_reports_rotation(marked_astronaut: np.ndarray) -> None:
    g = watermark.detect(ATTACKS["rot5"](marked_astronaut), KEY).geometry
    assert g is not None
    assert abs(abs(g.rotation) - 5.0) < 0.5


def test_unmarked_and_wrong_key_not_found(
    marked_astronaut: np.ndarray, photo: Callable[..., np.ndarray]
) -> None:
    for image, key in ((photo("astronaut"), KEY), (marked_astronaut, "another key")):
        result = watermark.detect(image, key)
        assert not result.found and result.payload is None and result.geometry is None
        assert result.p_value > 1e-6


def test_grey_uint8(texture: np.ndarray) -> None:
    grey = np.ascontiguousarray(texture[..., 0])
    marked = watermark.embed(grey, b"g", KEY)
    assert marked.shape == grey.shape and marked.dtype == np.uint8
    assert watermark.detect(marked, KEY).payload == b"g"


def test_float32_stays_float32(texture: np.ndarray) -> None:
    img = texture.astype(np.float32) / np.float32(255.0)
    marked = watermark.embed(img, b"f", KEY.encode())
    assert marked.dtype == np.float32 and marked.shape == img.shape
    assert float(marked.min()) >= 0.0 and float(marked.max()) <= 1.0
    assert psnr(img, marked, 1.0) >= 40.0
    assert watermark.detect(marked, KEY).payload == b"f"


def test_empty_payload(texture: np.ndarray) -> None:
    assert watermark.detect(watermark.embed(texture, b"", KEY), KEY).payload == b""


def test_psnr_option(texture: np.ndarray) -> None:
    marked = watermark.embed(texture, b"p", KEY, psnr=45.0)
    assert 45.0 <= psnr(texture, marked) < 46.0


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((256, 256, 3), dtype=np.int16), "dtype"),
        (np.zeros((256, 256, 3), dtype=np.float64), "dtype"),
        (np.zeros((256, 256, 4), dtype=np.uint8), "shape"),
        (np.zeros((256,), dtype=np.uint8), "shape"),
        (np.zeros((200, 300), dtype=np.uint8), ">= 256"),
        (np.full((256, 256), 2.0, dtype=np.float32), r"\[0, 1\]"),
        (np.full((256, 256), np.nan, dtype=np.float32), "NaN"),
        ([[0, 1]], "numpy array"),
    ],
)
def test_bad_images(image: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        watermark.embed(image, b"x", KEY)  # type: ignore[arg-type]


def test_bad_payload_key_psnr(texture: np.ndarray) -> None:
    with pytest.raises(ValueError, match="at most 8"):
        watermark.embed(texture, b"123456789", KEY)
    with pytest.raises(ValueError, match="bytes"):
        watermark.embed(texture, "text", KEY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        watermark.embed(texture, b"x", "")
    with pytest.raises(ValueError, match="bytes or str"):
        watermark.detect(texture, 123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="psnr"):
        watermark.embed(texture, b"x", KEY, psnr=5.0)


def test_detect_small_image_error() -> None:
    with pytest.raises(ValueError, match=">= 128"):
        watermark.detect(np.zeros((100, 300), dtype=np.uint8), KEY)


def test_public_key_is_bytes(texture: np.ndarray) -> None:
    assert isinstance(watermark.PUBLIC_KEY, bytes)
    marked = watermark.embed(texture, b"pub", watermark.PUBLIC_KEY)
    assert watermark.detect(marked, watermark.PUBLIC_KEY).payload == b"pub"


def test_video_building_blocks(texture: np.ndarray) -> None:
    """A precomputed plan applied per frame equals embed(); folds accumulate across frames."""
    from watermark import _detect, _embed, _keys, _layout

    key = _keys.key_bytes(KEY)
    plan = _embed.plan(key, b"vid", 256, 256)
    frame = np.asarray(_embed.apply(texture, plan, psnr=40.0))
    assert np.array_equal(frame, watermark.embed(texture, b"vid", KEY))
    basis = np.diag([128.0, 128.0])
    total = np.zeros((_layout.FOLD, _layout.FOLD))
    count = np.zeros_like(total)
    for f in (frame, ATTACKS["noise5"](frame)):
        y, _ = _detect.analysis_image(f.astype(np.float32))
        s, c = _detect.fold(_detect.prefilter(y), basis)
        total += s
        count += c
    z = _detect.sync_scores(total / np.maximum(count, 1), key)
    o, d0, d1 = np.unravel_index(int(np.argmax(z)), z.shape)
    assert _detect.p_value(float(z.max()), False) < 1e-6
    assert _detect.decode(total / np.maximum(count, 1), key, int(o), (int(d0), int(d1))) == b"vid"


@pytest.mark.parametrize("key", [b"a", b"jinjja-benchmark-key"])
def test_sync_scores_match_the_direct_computation(key: bytes) -> None:
    from watermark import _detect, _layout

    rng = np.random.default_rng(len(key))
    folded = rng.normal(size=(_layout.FOLD, _layout.FOLD))
    folded[::7, 3::5] += 3.0  # some structure, so that the maximum is unique
    fast = _detect.sync_scores(folded, key)
    direct = _detect._sync_scores_direct(folded, key)
    np.testing.assert_allclose(fast, direct, atol=1e-5)
    z, o, (dy, dx) = _detect.best_sync(folded, key)
    assert (o, dy, dx) == np.unravel_index(int(np.argmax(direct)), direct.shape)
    assert z == pytest.approx(float(direct.max()), abs=1e-5)


def test_max3_matches_scipy_maximum_filter() -> None:
    from scipy.ndimage import maximum_filter

    from watermark._detect import max3

    a = np.random.default_rng(3).normal(size=(4, 37, 29))
    assert np.array_equal(max3(a, (1, 2), wrap=True), maximum_filter(a, (1, 3, 3), mode="wrap"))
    assert np.array_equal(max3(a, (1, 2), wrap=False), maximum_filter(a, (1, 3, 3)))
    five = max3(max3(a, (1, 2), wrap=True), (1, 2), wrap=True)
    assert np.array_equal(five, maximum_filter(a, (1, 5, 5), mode="wrap"))


def test_profiles_meet_the_psnr_and_differ_where_the_picture_is_flat() -> None:
    import skimage.data

    img = skimage.data.astronaut()
    flat = np.zeros(img.shape[:2], dtype=bool)
    flat[:80, 260:420] = True  # the plain backdrop above the flag
    change = {}
    for profile in ("robust", "subtle"):
        marked = watermark.embed(img, b"\x07" * 8, "k", profile=profile)
        mse = np.mean((marked.astype(np.float64) - img) ** 2)
        assert 10 * np.log10(255.0**2 / mse) >= 40.0
        assert watermark.detect(marked, "k").payload == b"\x07" * 8
        change[profile] = float(np.abs(marked.astype(np.float64) - img)[flat].mean())
    assert change["subtle"] < 0.6 * change["robust"]


def test_unknown_profile_is_refused() -> None:
    img = np.full((256, 256), 128, dtype=np.uint8)
    with pytest.raises(ValueError, match="profile must be one of robust, subtle"):
        watermark.embed(img, b"x", "k", profile="loud")
