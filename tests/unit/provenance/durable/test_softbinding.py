"""Soft-binding assertions, the publish step and recovery through a local repository."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import provenance
import watermark
from provenance.credentials.sign import SignerSpec, sign_file
from provenance.durable.detect import detect_watermark
from provenance.durable.publishing import PublishError, publish, watermark_image_bytes
from provenance.durable.repository import Repository
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    WATERMARK_ALG,
    declared_bindings,
    new_manifest_id,
    soft_binding_assertions,
)
from provenance.report import Verdict
from provenance.testing.pki import Pki, make_pki

ROOT = Path(__file__).resolve().parents[4]


def natural(seed: int, h: int = 384, w: int = 512) -> np.ndarray:
    """A picture with smooth shading, edges and fine noise (PDQ quality well above 50)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        for _ in range(6):
            fx, fy = rng.uniform(0.005, 0.06, 2)
            img[..., c] += rng.uniform(10, 40) * np.sin(fx * x + fy * y + rng.uniform(0, 6.28))
    for _ in range(12):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(20, 100)
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] += rng.uniform(-60, 60, 3)
    img += 128 + rng.normal(0, 6, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def strip(
    path: Path, out: Path, *, scale: float = 0.5, crop: float = 0.8, quality: int = 75
) -> Path:
    """What a social network does: decode, resize, crop, re-encode without metadata."""
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    rgb = rgb.resize(
        (round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS
    )
    cw, ch = round(rgb.width * crop), round(rgb.height * crop)
    left, top = (rgb.width - cw) // 2, (rgb.height - ch) // 2
    rgb.crop((left, top, left + cw, top + ch)).save(out, "JPEG", quality=quality)
    return out


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki("Softbinding Test", algs=("es256",), seed=b"softbinding-tests")


@pytest.fixture(scope="module")
def signer(pki: Pki) -> SignerSpec:
    return SignerSpec.from_pem(pki.chain_pem("es256"), pki.key_pem("es256"))


@pytest.fixture
def anchors(tmp_path: Path, pki: Pki) -> Path:
    path = tmp_path / "root.pem"
    path.write_bytes(pki.root_pem)
    return path


@pytest.fixture
def source(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "photo.jpg", seed: int = 1, **kw: int) -> Path:
        path = tmp_path / name
        Image.fromarray(natural(seed, **kw)).save(path, quality=92)
        return path

    return make


def test_identifier_and_assertions() -> None:
    ids = {new_manifest_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 8 and i != bytes(8) for i in ids)
    taken = {new_manifest_id().hex()}
    assert new_manifest_id(lambda h: h in taken).hex() not in taken
    parts = soft_binding_assertions(bytes(range(8)), fingerprint=bytes(32), key_name="private")
    assert [p["label"] for p in parts] == ["c2pa.actions", "c2pa.soft-binding", "c2pa.soft-binding"]
    action = parts[0]["data"]["actions"][0]
    assert action["action"] == "c2pa.watermarked" and "private key" in action["description"]
    assert parts[1]["data"]["alg"] == WATERMARK_ALG
    assert parts[1]["data"]["blocks"] == [{"scope": {}, "value": list(range(8))}]
    assert parts[2]["data"]["alg"] == FINGERPRINT_ALG
    with pytest.raises(ValueError):
        soft_binding_assertions(b"short")
    with pytest.raises(ValueError):
        soft_binding_assertions(bytes(8), fingerprint=b"x")


def test_declared_bindings_reads_sdk_json() -> None:
    store = {
        "active_manifest": "m",
        "manifests": {
            "m": {
                "assertions": [
                    {"label": "c2pa.actions", "data": {}},
                    {
                        "label": "c2pa.soft-binding",
                        "data": {
                            "alg": WATERMARK_ALG,
                            "blocks": [
                                {"scope": {}, "value": base64.b64encode(b"12345678").decode()}
                            ],
                        },
                    },
                    {
                        "label": "c2pa.soft-binding",
                        "data": {"alg": "x", "blocks": [{"value": "!!"}]},
                    },
                    {"label": "c2pa.soft-binding", "data": {"blocks": []}},
                ]
            }
        },
    }
    [b] = declared_bindings(store)
    assert (b.alg, b.value) == (WATERMARK_ALG, b"12345678")
    assert declared_bindings({}) == ()


@pytest.mark.parametrize("fmt,mode", [("JPEG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB")])
def test_watermark_image_bytes_round_trip(fmt: str, mode: str) -> None:
    img = Image.fromarray(natural(4, 300, 360)).convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt)
    media_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[fmt]
    ident = bytes.fromhex("a1b2c3d4e5f60718")
    marked, psnr = watermark_image_bytes(
        buf.getvalue(), media_type, ident, key=watermark.PUBLIC_KEY
    )
    assert 38.0 < psnr < 45.0
    with Image.open(io.BytesIO(marked)) as out:
        assert out.format == fmt and out.mode == mode and out.size == img.size
    [finding] = detect_watermark(marked, media_type)
    assert finding.found and finding.payload_hex == ident.hex()


def test_watermark_image_bytes_errors() -> None:
    small = io.BytesIO()
    Image.new("RGB", (200, 400)).save(small, "PNG")
    with pytest.raises(PublishError) as e:
        watermark_image_bytes(small.getvalue(), "image/png", bytes(8), key="k")
    assert e.value.code == "too_small"
    with pytest.raises(PublishError) as e:
        watermark_image_bytes(b"garbage", "image/png", bytes(8), key="k")
    assert e.value.code == "corrupt"
    with pytest.raises(PublishError) as e:
        watermark_image_bytes(small.getvalue(), "image/gif", bytes(8), key="k")
    assert e.value.code == "unsupported_format"


def test_publish_then_recover_stripped_copy(
    tmp_path: Path, source: Callable[..., Path], signer: SignerSpec, anchors: Path
) -> None:
    src = source()
    with Repository.open(tmp_path / "repo.db", create=True) as repo:
        done = publish(
            src,
            tmp_path / "out.jpg",
            signer=signer,
            repository=repo,
            source_type="digitalCapture",
            trust_anchors=[anchors],
        )
        assert done.path.is_file() and done.fingerprint is not None and done.psnr is not None
        assert done.signed.history == 1 and done.signed.alg == "es256"
        info = repo.info(done.manifest_id)
        assert info is not None and info.label == done.manifest_label
        assert {b.alg for b in info.bindings} == {WATERMARK_ALG, FINGERPRINT_ALG}
    signed = provenance.check(done.path, trust_anchors=[anchors])
    assert signed.verdict is Verdict.TRUSTED
    actions = [a.action for a in signed.chain.actions]
    assert actions == ["c2pa.created", "c2pa.watermarked"]

    copy = strip(done.path, tmp_path / "copy.jpg")
    plain = provenance.check(copy, trust_anchors=[anchors])
    assert plain.verdict is Verdict.NO_CREDENTIALS and plain.recovery is None
    report = provenance.check(copy, trust_anchors=[anchors], repo=tmp_path / "repo.db")
    assert report.verdict is Verdict.RECOVERED
    assert report.recovery is not None
    assert report.recovery.method == "watermark"
    assert report.recovery.manifest_id == done.manifest_id
    assert report.recovery.detail["p_value"] < 1e-6
    assert report.recovery.detail["trusted"] is True
    assert report.recovery.detail["hard_binding"] == "mismatch"
    assert report.chain is not None and report.chain.label == done.manifest_label
    assert [w.payload_hex for w in report.watermarks] == [done.manifest_id]
    assert any("hard binding" in line for line in report.summary)
    assert {f.code for f in report.failures} == {"assertion.dataHash.mismatch"}
    assert report.to_dict()["recovery"]["manifest_id"] == done.manifest_id

    # Another picture is not matched.
    other = provenance.check(source("other.jpg", seed=9), repo=tmp_path / "repo.db")
    assert other.verdict is Verdict.NO_CREDENTIALS and other.recovery is None


def test_private_key_and_fingerprint_recovery(
    tmp_path: Path, source: Callable[..., Path], signer: SignerSpec, anchors: Path
) -> None:
    with Repository.open(tmp_path / "repo.db", create=True) as repo:
        done = publish(
            source(),
            tmp_path / "out.jpg",
            signer=signer,
            repository=repo,
            wm_key=b"newsroom secret key",
            source_type="digitalCapture",
            trust_anchors=[anchors],
        )
    copy = strip(done.path, tmp_path / "copy.jpg", crop=1.0)  # PDQ survives resizing
    with_key = provenance.check(copy, repo=tmp_path / "repo.db", wm_keys=[b"newsroom secret key"])
    assert with_key.verdict is Verdict.RECOVERED and with_key.recovery is not None
    assert with_key.recovery.method == "watermark"
    assert with_key.recovery.detail["key"] == "extra key 1"
    assert with_key.recovery.detail["fingerprint_distance"] <= 31
    # Without the key the mark is not read, but the fingerprint still finds the manifest.
    no_key = provenance.check(copy, repo=tmp_path / "repo.db")
    assert no_key.verdict is Verdict.RECOVERED and no_key.recovery is not None
    assert no_key.recovery.method == "fingerprint"
    assert no_key.recovery.manifest_id == done.manifest_id
    assert not no_key.watermarks


def test_watermark_without_repository_entry_is_reported(
    tmp_path: Path, source: Callable[..., Path]
) -> None:
    marked = tmp_path / "marked.png"
    Image.fromarray(
        watermark.embed(natural(2), bytes.fromhex("00112233445566ff"), watermark.PUBLIC_KEY)
    ).save(marked)
    Repository.open(tmp_path / "empty.db", create=True).close()
    report = provenance.check(marked, repo=tmp_path / "empty.db")
    assert report.verdict is Verdict.NO_CREDENTIALS
    assert [w.payload_hex for w in report.watermarks] == ["00112233445566ff"]
    assert any("00112233445566ff" in line and "no manifest" in line for line in report.summary)


def test_publish_keeps_history_and_refuses_double_marking(
    tmp_path: Path, source: Callable[..., Path], signer: SignerSpec, anchors: Path
) -> None:
    first = sign_file(
        source(),
        tmp_path / "signed.jpg",
        signer=signer,
        source_type="digitalCapture",
        trust_anchors=[anchors],
    )
    with Repository.open(tmp_path / "repo.db", create=True) as repo:
        done = publish(
            first.path,
            tmp_path / "pub.jpg",
            signer=signer,
            repository=repo,
            action="published",
            trust_anchors=[anchors],
        )
        assert done.signed.history == 2 and done.signed.parent == "signed.jpg"
        with pytest.raises(PublishError) as e:
            publish(
                done.path,
                tmp_path / "again.jpg",
                signer=signer,
                repository=repo,
                trust_anchors=[anchors],
            )
        assert e.value.code == "already_watermarked"
        with pytest.raises(PublishError) as e:
            publish(
                first.path,
                tmp_path / "pub.jpg",
                signer=signer,
                repository=repo,
                trust_anchors=[anchors],
            )
        assert e.value.code == "output_exists"
        with pytest.raises(PublishError) as e:
            publish(first.path, tmp_path / "x.jpg", signer=signer, trust_anchors=[anchors])
        assert e.value.code == "no_repository"
        assert len(repo) == 1
    report = provenance.check(
        strip(done.path, tmp_path / "c.jpg"), repo=tmp_path / "repo.db", trust_anchors=[anchors]
    )
    assert report.verdict is Verdict.RECOVERED
    assert report.chain is not None and [i.title for i in report.chain.ingredients] == [
        "signed.jpg"
    ]


def test_recovered_report_matches_schema_and_embedded_damage_is_named(
    tmp_path: Path, source: Callable[..., Path], signer: SignerSpec, anchors: Path
) -> None:
    import jsonschema

    with Repository.open(tmp_path / "repo.db", create=True) as repo:
        done = publish(
            source(), tmp_path / "out.jpg", signer=signer, repository=repo,
            source_type="digitalCapture", trust_anchors=[anchors],
        )  # fmt: skip
    # Change bytes of the picture after signing, keeping the embedded manifest.
    data = bytearray(done.path.read_bytes())
    sos = data.rfind(b"\xff\xda")
    changed = 0
    for i in range(sos + (len(data) - sos) // 2, len(data) - 2):
        if changed == 32:
            break
        if 0x10 < data[i] < 0xF0 and data[i - 1] != 0xFF and data[i + 1] != 0xFF:
            data[i] ^= 0x03
            changed += 1
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    assert provenance.check(tampered, trust_anchors=[anchors]).verdict is Verdict.INCOMPLETE
    report = provenance.check(tampered, trust_anchors=[anchors], repo=tmp_path / "repo.db")
    assert report.verdict is Verdict.RECOVERED
    assert "the embedded ones are incomplete" in report.summary[0]
    assert report.chain is not None and report.chain.reliable
    schema = json.loads((ROOT / "spec" / "report.schema.json").read_text())
    jsonschema.validate(report.to_dict(), schema)
    # A repository that cannot be opened is a sentence, not an exception.
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"junk" * 1000)
    broken = provenance.check(tampered, repo=junk)
    assert broken.verdict is Verdict.INCOMPLETE
    assert any("recovery not attempted" in line for line in broken.summary)
