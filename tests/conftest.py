"""Shared test fixtures: a test PKI, signed pictures/video made with the c2pa Builder,
the shared real-file corpus (``$JINJJA_SHARED``) and an isolated trust-store directory.

Everything is generated at session start (plain images with numpy/Pillow, a tiny MP4
with PyAV) and signed in a session temp directory; nothing is downloaded.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from testkit import (  # noqa: F401
    AI_CREATED,
    ASSETS,
    CAPTURE,
    GENERATOR,
    IPTC,
    Signed,
    _actions,
    _context,
    _serials,
    _signer,
    _token,
    encode,
    flip_in_manifest,
    flip_pixels,
    picture,
    serve_tsa,
    sign_bytes,
    tiny_mp4,
)

from provenance.testing.pki import make_pki

# tests/interop runs against a second, independent server whose code is not on the package
# registries: only with `make interop` (JINJJA_SBR_NODE_SERVER names its checkout).
collect_ignore = [] if os.environ.get("JINJJA_SBR_NODE_SERVER") else ["interop"]

# The watermark tests and the video-file tests share the benchmarks' clip and attack helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.fixture(scope="session", autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``JINJJA_DATA_DIR`` at a store that lists no trust list, so that neither the
    user's stored lists nor the snapshots shipped in the package (used when nothing was
    ever stored) leak in. Tests of the shipped snapshots use a data directory of their own."""
    path = tmp_path_factory.mktemp("jinjja-data")
    (path / "trust.json").write_text('{"schema": "jinjja.trust/v1", "lists": []}\n')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JINJJA_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def asset() -> Callable[[str], Path]:
    """Return the path of a file under ``tests/assets`` (fails if it is missing)."""

    def _asset(name: str) -> Path:
        path = ASSETS / name
        assert path.exists(), f"missing test asset {path}"
        return path

    return _asset


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``$JINJJA_SHARED``: skip when unset; fail when set but missing."""
    value = os.environ.get("JINJJA_SHARED")
    if not value:
        pytest.skip("JINJJA_SHARED is not set (real-file corpus unavailable)")
    path = Path(value)
    assert path.is_dir(), f"JINJJA_SHARED={value} is set but is not a directory"
    return path


@pytest.fixture(scope="session")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    """Every signed test file, built once per session (about one second)."""
    d = tmp_path_factory.mktemp("signed")
    pki = make_pki("Jinjja Test", seed=b"jinjja-tests")
    root = d / "root.pem"
    root.write_bytes(pki.root_pem)
    ctx = _context(pki)
    es256, ed25519, ps256 = (_signer(pki, a) for a in ("es256", "ed25519", "ps256"))

    img = picture()
    jpeg = encode(img, "JPEG", quality=90)
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> Path:
        path = d / name
        path.write_bytes(data)
        files[name] = path
        return path

    put("unsigned.jpg", jpeg)
    put("es256.jpg", sign_bytes(CAPTURE, jpeg, "image/jpeg", es256)[0])
    put("ed25519.jpg", sign_bytes(CAPTURE, jpeg, "image/jpeg", ed25519)[0])
    put("ps256.jpg", sign_bytes(CAPTURE, jpeg, "image/jpeg", ps256)[0])
    put("signed.png", sign_bytes(CAPTURE, encode(img, "PNG"), "image/png", es256)[0])
    put("signed.webp", sign_bytes(CAPTURE, encode(img, "WEBP"), "image/webp", ed25519)[0])
    put("signed.mp4", sign_bytes(CAPTURE, tiny_mp4(), "video/mp4", es256)[0])

    # capture -> edit (parentOf) -> publish (parentOf + a componentOf logo)
    capture = put("chain1_capture.jpg", sign_bytes(CAPTURE, jpeg, "image/jpeg", es256)[0])
    cropped = encode(Image.open(capture).crop((8, 8, 88, 56)), "JPEG", quality=90)
    edit_def = {
        "claim_generator_info": [{"name": "Jinjja Editor", "version": "2.0"}],
        "title": "chain2_edit.jpg",
        "assertions": [
            _actions(
                {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent-1"]}},
                {"action": "c2pa.cropped", "description": "crop to subject"},
            )
        ],
    }
    edit = put(
        "chain2_edit.jpg",
        sign_bytes(
            edit_def,
            cropped,
            "image/jpeg",
            ps256,
            context=ctx,
            ingredients=(
                (
                    {
                        "title": "chain1_capture.jpg",
                        "relationship": "parentOf",
                        "instance_id": "parent-1",
                    },
                    "image/jpeg",
                    capture.read_bytes(),
                ),
            ),
        )[0],
    )
    pub_def = {
        "claim_generator_info": [{"name": "Jinjja Publisher", "version": "3.1"}],
        "title": "chain3_published.jpg",
        "assertions": [
            _actions(
                {"action": "c2pa.opened", "parameters": {"ingredientIds": ["edit-2"]}},
                {"action": "c2pa.placed", "parameters": {"ingredientIds": ["logo-1"]}},
                {"action": "c2pa.published"},
            )
        ],
    }
    logo = encode(Image.new("RGB", (16, 16), (0, 90, 200)), "PNG")
    put(
        "chain3_published.jpg",
        sign_bytes(
            pub_def,
            edit.read_bytes(),
            "image/jpeg",
            ed25519,
            context=ctx,
            ingredients=(
                (
                    {
                        "title": "chain2_edit.jpg",
                        "relationship": "parentOf",
                        "instance_id": "edit-2",
                    },
                    "image/jpeg",
                    edit.read_bytes(),
                ),
                (
                    {"title": "logo.png", "relationship": "componentOf", "instance_id": "logo-1"},
                    "image/png",
                    logo,
                ),
            ),
        )[0],
    )

    es_jpeg = files["es256.jpg"].read_bytes()
    put("tampered_pixels.jpg", flip_pixels(es_jpeg))
    put("tampered_manifest.jpg", flip_in_manifest(es_jpeg))

    # AI declared only in the ingredient: an "opened" edit of an AI-generated picture.
    ai_png = sign_bytes(AI_CREATED, encode(img, "PNG"), "image/png", es256)[0]
    ai_edit = {
        "claim_generator_info": [{"name": "Jinjja Editor", "version": "2.0"}],
        "title": "edited.png",
        "assertions": [
            _actions(
                {"action": "c2pa.opened", "parameters": {"ingredientIds": ["gen-1"]}},
                {"action": "c2pa.color_adjustments"},
            )
        ],
    }
    put(
        "ai_ingredient.png",
        sign_bytes(
            ai_edit,
            encode(img.rotate(180), "PNG"),
            "image/png",
            es256,
            context=ctx,
            ingredients=(
                (
                    {"title": "generated.png", "relationship": "parentOf", "instance_id": "gen-1"},
                    "image/png",
                    ai_png,
                ),
            ),
        )[0],
    )

    # Detached (sidecar) manifest, and a remote-only reference.
    asset, store = sign_bytes(CAPTURE, jpeg, "image/jpeg", es256, no_embed=True)
    put("detached.jpg", asset)
    put("detached.c2pa", store)
    remote, _ = sign_bytes(
        CAPTURE,
        jpeg,
        "image/jpeg",
        es256,
        no_embed=True,
        remote_url="https://manifests.example.org/abc.c2pa",
    )
    put("remote.jpg", remote)

    # Expired certificate, no timestamp: valid for ~1.5 s when signing, expired when read.
    import c2pa

    now = dt.datetime.now(dt.UTC)
    short = pki.issue(
        "es256",
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(seconds=1.5),
        label="short",
    )
    short_signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo("es256", short.chain_pem, short.key_pem, None)
    )
    put("expired.jpg", sign_bytes(CAPTURE, jpeg, "image/jpeg", short_signer)[0])
    with serve_tsa(pki) as tsa_url:
        stamped_signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo("es256", short.chain_pem, short.key_pem, tsa_url)
        )
        put("expired_timestamped.jpg", sign_bytes(CAPTURE, jpeg, "image/jpeg", stamped_signer)[0])
    remaining = (short.not_after - dt.datetime.now(dt.UTC)).total_seconds()
    if remaining > -1:
        time.sleep(remaining + 1.1)

    return Signed(
        dir=d,
        pki=pki,
        root=root,
        unsigned_jpeg=files["unsigned.jpg"],
        jpeg_es256=files["es256.jpg"],
        jpeg_ed25519=files["ed25519.jpg"],
        jpeg_ps256=files["ps256.jpg"],
        png=files["signed.png"],
        webp=files["signed.webp"],
        mp4=files["signed.mp4"],
        capture=files["chain1_capture.jpg"],
        edit=files["chain2_edit.jpg"],
        publish=files["chain3_published.jpg"],
        tampered_pixels=files["tampered_pixels.jpg"],
        tampered_manifest=files["tampered_manifest.jpg"],
        expired=files["expired.jpg"],
        expired_timestamped=files["expired_timestamped.jpg"],
        ai_ingredient=files["ai_ingredient.png"],
        detached_asset=files["detached.jpg"],
        detached_manifest=files["detached.c2pa"],
        remote_asset=files["remote.jpg"],
    )


# Host images for the watermark tests (scikit-image's bundled photos, 256-512 px).
@functools.cache
def _photo(name: str, size: int = 512) -> np.ndarray:
    """A scikit-image photo, centre-cropped to a square and resized to ``size``."""
    import skimage.data
    from PIL import Image

    a = getattr(skimage.data, name)()
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    h, w = a.shape[:2]
    s = min(h, w)
    a = a[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.LANCZOS))


@pytest.fixture(scope="session")
def photo() -> Callable[..., np.ndarray]:
    """``photo(name, size=512)``: a cached scikit-image photo as uint8 RGB."""
    return _photo


@pytest.fixture(scope="session")
def texture() -> np.ndarray:
    """A generated 256x256 RGB texture."""
    y, x = np.mgrid[0:256, 0:256]
    grey = np.rint(128 + 60 * np.sin(x / 9) * np.cos(y / 13)).astype(np.uint8)
    return np.stack([grey, grey[::-1], grey.T], axis=-1)
