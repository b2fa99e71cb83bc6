"""provenance.credentials.sign: algorithms, formats, history, manifest merging, output safety."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from PIL import Image, features
from testkit import encode, picture, tiny_mp4

from provenance import check, check_bytes
from provenance.credentials.chain import iter_nodes
from provenance.credentials.sign import (
    CertificateError,
    Ingredient,
    SignerSpec,
    SigningError,
    capture_manifest,
    sign_bytes,
    sign_file,
)
from provenance.errors import InputFileError
from provenance.report import Verdict
from provenance.testing.pki import Pki, make_pki


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki("Sign Test", seed=b"sign-tests")


@pytest.fixture(scope="module")
def root(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("anchors") / "root.pem"
    path.write_bytes(pki.root_pem)
    return path


@pytest.fixture(scope="module")
def es256(pki: Pki) -> SignerSpec:
    return SignerSpec.from_pem(pki.chain_pem("es256"), pki.key_pem("es256"))


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(picture(), "JPEG", quality=90))
    return path


def es384_chain() -> tuple[bytes, bytes, bytes]:
    """(chain PEM, key PEM, root PEM) of a P-384 signer issued directly by a P-256 root."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ES384 Root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP384R1())
    ee = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ES384 Signer")]))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ObjectIdentifier("1.3.6.1.4.1.62558.2.1"), ExtendedKeyUsageOID.EMAIL_PROTECTION]
            ),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ee.public_bytes(pem), key_pem, root.public_bytes(pem)


def _assertions(path: Path) -> dict[str, Any]:
    import c2pa

    with c2pa.Reader(str(path)) as reader:
        manifest = reader.get_active_manifest()
    return {a["label"]: a["data"] for a in manifest["assertions"]}


# ------------------------------------------------------------------------------ algorithms


@pytest.mark.parametrize("alg", ["es256", "ps256", "ed25519"])
def test_each_algorithm_signs_a_trusted_file(
    pki: Pki, root: Path, jpeg: Path, tmp_path: Path, alg: str
) -> None:
    chain, key = tmp_path / "chain.pem", tmp_path / "signer.key"
    chain.write_bytes(pki.chain_pem(alg))
    key.write_bytes(pki.key_pem(alg))
    signer = SignerSpec.from_files(chain, key)
    assert signer.alg == alg  # inferred from the key
    result = sign_file(jpeg, tmp_path / "out.jpg", signer=signer, source_type="digitalCapture")
    assert result.alg == alg and result.media_type == "image/jpeg"
    assert result.history == 1 and result.parent is None and not result.timestamped
    assert result.manifest_label and result.manifest_label.startswith("urn:c2pa:")
    assert f"Sign Test Signer ({alg})" in result.signer
    report = check(result.path, trust_anchors=[root])
    assert report.verdict is Verdict.TRUSTED, report.summary
    assert report.chain is not None and report.chain.label == result.manifest_label
    assert report.chain.actions[0].digital_source_type.endswith("/digitalCapture")


def test_es384(jpeg: Path, tmp_path: Path) -> None:
    chain, key, root_pem = es384_chain()
    (tmp_path / "root.pem").write_bytes(root_pem)
    signer = SignerSpec.from_pem(chain, key)
    assert signer.alg == "es384"
    result = sign_file(
        jpeg,
        tmp_path / "out.jpg",
        signer=signer,
        source_type="digitalCapture",
        trust_anchors=[tmp_path / "root.pem"],
    )
    report = check(result.path, trust_anchors=[tmp_path / "root.pem"])
    assert report.verdict is Verdict.TRUSTED, report.summary


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8"/></svg>'
PICTURE_FORMATS = [
    ("PNG", ".png", "image/png"),
    ("WEBP", ".webp", "image/webp"),
    ("GIF", ".gif", "image/gif"),
    ("TIFF", ".tif", "image/tiff"),
    ("SVG", ".svg", "image/svg+xml"),
]
if features.check("avif"):  # Pillow wheels write AVIF since 11.2
    PICTURE_FORMATS.append(("AVIF", ".avif", "image/avif"))


@pytest.mark.parametrize(("fmt", "suffix", "media_type"), PICTURE_FORMATS)
def test_picture_formats(
    es256: SignerSpec, root: Path, tmp_path: Path, fmt: str, suffix: str, media_type: str
) -> None:
    src = tmp_path / f"in{suffix}"
    src.write_bytes(SVG if fmt == "SVG" else encode(picture(), fmt))
    result = sign_file(src, tmp_path / f"out{suffix}", signer=es256, source_type="digitalCapture")
    assert result.media_type == media_type
    report = check(result.path, trust_anchors=[root])
    assert report.verdict is Verdict.TRUSTED, report.summary


@pytest.mark.video
@pytest.mark.parametrize(("container", "suffix"), [("mp4", ".mp4"), ("mov", ".mov")])
def test_video_formats(
    es256: SignerSpec, root: Path, tmp_path: Path, container: str, suffix: str
) -> None:
    import av

    data = tiny_mp4()
    if container == "mov":
        buf = io.BytesIO()
        with av.open(io.BytesIO(data)) as inp, av.open(buf, "w", format="mov") as out:
            stream = out.add_stream_from_template(inp.streams.video[0])
            for packet in inp.demux(inp.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    out.mux(packet)
        data = buf.getvalue()
    src = tmp_path / f"clip{suffix}"
    src.write_bytes(data)
    result = sign_file(
        src, tmp_path / f"signed{suffix}", signer=es256, source_type="digitalCapture"
    )
    assert result.media_type in ("video/mp4", "video/quicktime")
    report = check(result.path, trust_anchors=[root])
    assert report.verdict is Verdict.TRUSTED, report.summary


# --------------------------------------------------------------------------------- history


def test_resigning_keeps_history(es256: SignerSpec, pki: Pki, root: Path, jpeg: Path) -> None:
    first = sign_file(jpeg, jpeg.with_name("1.jpg"), signer=es256, source_type="digitalCapture")
    ed = SignerSpec.from_pem(pki.chain_pem("ed25519"), pki.key_pem("ed25519"))
    second = sign_file(
        first.path, jpeg.with_name("2.jpg"), signer=ed, action="published", trust_anchors=[root]
    )
    assert second.history == 2 and second.parent == "1.jpg"
    report = check(second.path, trust_anchors=[root])
    assert report.verdict is Verdict.TRUSTED, report.summary
    top = report.chain
    assert top is not None and top.title == "2.jpg"
    assert [a.action for a in top.actions] == ["c2pa.opened", "c2pa.published"]
    (parent,) = top.ingredients
    assert parent.relationship == "parentOf" and parent.label == first.manifest_label
    assert parent.actions[0].action == "c2pa.created"
    assert parent.reliable
    assert len(list(iter_nodes(top))) == 2
    # Without an action, only "opened" is recorded; the history grows by one.
    third = sign_file(second.path, jpeg.with_name("3.jpg"), signer=es256, trust_anchors=[root])
    assert third.history == 3
    nodes = list(iter_nodes(check(third.path, trust_anchors=[root]).chain))
    assert len(nodes) == 3


def test_explicit_parent(es256: SignerSpec, root: Path, jpeg: Path, tmp_path: Path) -> None:

    capture = sign_file(jpeg, tmp_path / "capture.jpg", signer=es256, source_type="digitalCapture")
    with Image.open(capture.path) as im:
        im.crop((4, 4, 60, 40)).save(tmp_path / "crop.jpg", quality=90)  # credentials gone
    result = sign_file(
        tmp_path / "crop.jpg",
        tmp_path / "edit.jpg",
        signer=es256,
        action="cropped",
        parent=capture.path,
        trust_anchors=[root],
    )
    assert result.parent == "capture.jpg" and result.history == 2 and not result.warnings
    report = check(result.path, trust_anchors=[root])
    assert report.verdict is Verdict.TRUSTED
    assert [a.action for a in report.chain.actions] == ["c2pa.opened", "c2pa.cropped"]


def test_created_is_refused_for_a_file_with_history(es256: SignerSpec, jpeg: Path) -> None:
    first = sign_file(jpeg, jpeg.with_name("1.jpg"), signer=es256, source_type="digitalCapture")
    with pytest.raises(SigningError) as info:
        sign_file(first.path, jpeg.with_name("2.jpg"), signer=es256, action="created")
    assert info.value.code == "bad_action"
    assert not jpeg.with_name("2.jpg").exists()


def test_a_new_file_needs_a_source_type(es256: SignerSpec, jpeg: Path) -> None:
    with pytest.raises(SigningError) as info:
        sign_file(jpeg, jpeg.with_name("out.jpg"), signer=es256)
    assert info.value.code == "missing_source_type"
    assert "trainedAlgorithmicMedia" in info.value.message


def test_published_without_history_records_created_first(es256: SignerSpec, jpeg: Path) -> None:
    result = sign_file(
        jpeg,
        jpeg.with_name("out.jpg"),
        signer=es256,
        action="published",
        source_type="trainedAlgorithmicMedia",
    )
    actions = _assertions(result.path)["c2pa.actions.v2"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.created", "c2pa.published"]
    assert actions[0]["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert "digitalSourceType" not in actions[1]


def test_source_type_on_an_edit(es256: SignerSpec, jpeg: Path) -> None:
    first = sign_file(jpeg, jpeg.with_name("1.jpg"), signer=es256, source_type="digitalCapture")
    second = sign_file(
        first.path,
        jpeg.with_name("2.jpg"),
        signer=es256,
        action="edited",
        source_type="compositeWithTrainedAlgorithmicMedia",
    )
    actions = _assertions(second.path)["c2pa.actions.v2"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.edited"]
    assert actions[1]["digitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")
    assert check(second.path).ai.label.value == "AI_EDITED"


# ------------------------------------------------------------------- manifest and assertions


def test_custom_assertions_and_extra_actions_pass_through(es256: SignerSpec, jpeg: Path) -> None:
    soft = {
        "label": "c2pa.soft-binding",
        "data": {"alg": "org.jinjja.wm.1", "blocks": [{"scope": {}, "value": list(b"\x01\x02")}]},
    }
    extra_action = {
        "label": "c2pa.actions",
        "data": {"actions": [{"action": "c2pa.watermarked", "description": "mark"}]},
    }
    custom = {"label": "org.jinjja.note", "data": {"note": "hello"}}
    result = sign_file(
        jpeg,
        jpeg.with_name("out.jpg"),
        signer=es256,
        source_type="digitalCapture",
        assertions=[soft, extra_action, custom],
    )
    found = _assertions(result.path)
    actions = [a["action"] for a in found["c2pa.actions.v2"]["actions"]]
    assert actions == ["c2pa.created", "c2pa.watermarked"]
    assert found["c2pa.soft-binding"]["alg"] == "org.jinjja.wm.1"
    assert found["org.jinjja.note"] == {"note": "hello"}


def test_watermarked_without_soft_binding_is_refused_by_name(es256: SignerSpec, jpeg: Path) -> None:
    with pytest.raises(Exception) as info:
        sign_file(
            jpeg,
            jpeg.with_name("out.jpg"),
            signer=es256,
            source_type="digitalCapture",
            action="watermarked",
        )
    assert info.value.code == "manifest_invalid"  # type: ignore[attr-defined]
    assert "assertion.action.softBindingMissing" in info.value.message  # type: ignore[attr-defined]
    assert not list(jpeg.parent.glob("*.part")) and not jpeg.with_name("out.jpg").exists()


def test_author_and_user_manifest_are_merged(es256: SignerSpec, jpeg: Path) -> None:
    manifest = {
        "claim_generator_info": [{"name": "Newsroom CMS", "version": "4.2"}],
        "title": "Front page",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.color_adjustments"}]}},
            {"label": "org.example.desk", "data": {"desk": "photo"}},
        ],
    }
    result = sign_file(
        jpeg,
        jpeg.with_name("out.jpg"),
        signer=es256,
        source_type="digitalCapture",
        action="published",
        author="Kim Ji-woo",
        manifest=manifest,
    )
    found = _assertions(result.path)
    actions = [a["action"] for a in found["c2pa.actions.v2"]["actions"]]
    assert actions == ["c2pa.created", "c2pa.published", "c2pa.color_adjustments"]
    assert found["org.example.desk"] == {"desk": "photo"}
    work = found["stds.schema-org.CreativeWork"]
    assert work["@type"] == "CreativeWork"
    assert work["author"] == [{"@type": "Person", "name": "Kim Ji-woo"}]
    report = check(result.path)
    assert report.chain.title == "Front page"
    assert report.chain.claim_generator == "Newsroom CMS"


def test_legacy_keywords_and_capture_manifest(pki: Pki, root: Path, jpeg: Path) -> None:
    result = sign_file(
        jpeg,
        jpeg.with_name("out.jpg"),
        cert_chain_pem=pki.chain_pem("es256"),
        key_pem=pki.key_pem("es256"),
        alg="es256",
        manifest=capture_manifest("out.jpg", source_type="trainedAlgorithmicMedia"),
    )
    assert check(result.path, trust_anchors=[root]).verdict is Verdict.TRUSTED
    with pytest.raises(SigningError) as info:
        sign_file(jpeg, jpeg.with_name("x.jpg"))
    assert info.value.code == "bad_signer"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"action": "exploded"}, "bad_action"),
        ({"action": "opened"}, "bad_action"),
        ({"source_type": "dreamt"}, "bad_source_type"),
        ({"author": "  "}, "bad_author"),
        ({"manifest": {"assertions": [{"data": {}}]}}, "bad_manifest"),
        ({"assertions": [{"label": "c2pa.actions", "data": {"actions": "no"}}]}, "bad_manifest"),
        ({"manifest": {"title": object()}}, "bad_manifest"),
    ],
)
def test_bad_options_are_named(
    es256: SignerSpec, jpeg: Path, kwargs: dict[str, Any], code: str
) -> None:
    options: dict[str, Any] = {"source_type": "digitalCapture", **kwargs}
    with pytest.raises(SigningError) as info:
        sign_file(jpeg, jpeg.with_name("out.jpg"), signer=es256, **options)
    assert info.value.code == code


# ------------------------------------------------------------------------------ output


def test_never_overwrites_without_force(es256: SignerSpec, jpeg: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    out.write_bytes(b"precious")
    with pytest.raises(SigningError) as info:
        sign_file(jpeg, out, signer=es256, source_type="digitalCapture")
    assert info.value.code == "output_exists" and "--force" in info.value.message
    assert out.read_bytes() == b"precious"
    sign_file(jpeg, out, signer=es256, source_type="digitalCapture", force=True)
    assert out.read_bytes() != b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg", "photo.jpg"]


def test_never_signs_in_place(es256: SignerSpec, jpeg: Path) -> None:
    before = jpeg.read_bytes()
    for force in (False, True):
        with pytest.raises(SigningError) as info:
            sign_file(jpeg, jpeg, signer=es256, source_type="digitalCapture", force=force)
        assert info.value.code == "output_is_input"
    assert jpeg.read_bytes() == before


def test_into_a_folder(es256: SignerSpec, jpeg: Path, tmp_path: Path) -> None:
    folder = tmp_path / "signed"
    folder.mkdir()
    result = sign_file(jpeg, folder, signer=es256, source_type="digitalCapture")
    assert result.path == folder / "photo.jpg" and result.path.exists()
    with pytest.raises(SigningError) as info:
        sign_file(jpeg, tmp_path / "missing" / "x.jpg", signer=es256, source_type="digitalCapture")
    assert info.value.code == "output_dir_missing"


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"\xff\xd8\xff\xe0 truncated jpeg", "corrupt"), (b"just some text\n", "unsupported_format")],
)
def test_bad_inputs(es256: SignerSpec, tmp_path: Path, content: bytes, code: str) -> None:
    src = tmp_path / "bad.jpg"
    src.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        sign_file(src, tmp_path / "out.jpg", signer=es256, source_type="digitalCapture")
    assert info.value.code == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jpg"]


def test_missing_input(es256: SignerSpec, tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as info:
        sign_file(tmp_path / "nope.jpg", tmp_path / "out.jpg", signer=es256)
    assert info.value.code == "not_found"


# ---------------------------------------------------------------------- certificates, keys


def test_bad_certificate_is_named_before_signing(jpeg: Path) -> None:
    bad = make_pki("Bad", algs=("es256",), seed=b"bad", bad_eku=True)
    signer = SignerSpec.from_pem(bad.chain_pem(), bad.key_pem())
    with pytest.raises(CertificateError) as info:
        sign_file(jpeg, jpeg.with_name("out.jpg"), signer=signer, source_type="digitalCapture")
    assert info.value.code == "eku_not_allowed"
    assert "serverAuth" in info.value.message
    assert info.value.check is not None and not info.value.check.ok


def test_key_of_another_certificate(pki: Pki, jpeg: Path) -> None:
    other = make_pki("Other", algs=("es256",), seed=b"other")
    signer = SignerSpec.from_pem(pki.chain_pem(), other.key_pem())
    with pytest.raises(CertificateError) as info:
        sign_file(jpeg, jpeg.with_name("out.jpg"), signer=signer, source_type="digitalCapture")
    assert info.value.code == "key_mismatch"
    assert b"PRIVATE" not in repr(signer).encode() and "PRIVATE" not in info.value.diagnostics()


def test_bad_key_file_is_not_echoed(pki: Pki, tmp_path: Path) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pki.chain_pem())
    key = tmp_path / "signer.key"
    secret = "TOPSECRETKEYMATERIAL0123456789abcdefABCDEF"
    key.write_text(f"-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n")
    with pytest.raises(CertificateError) as info:
        SignerSpec.from_files(chain, key)
    text = info.value.diagnostics() + str(info.value) + repr(info.value)
    assert "TOPSECRET" not in text and "signer.key" in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_key_given_as_certificate(pki: Pki, tmp_path: Path) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pki.chain_pem())
    with pytest.raises(CertificateError, match="swapped"):
        SignerSpec.from_files(chain, chain)
    with pytest.raises(CertificateError) as info:
        SignerSpec.from_files(tmp_path / "none.pem", chain)
    assert info.value.code == "file_not_found"


def test_signer_options_are_validated(pki: Pki) -> None:
    with pytest.raises(SigningError) as info:
        SignerSpec.from_pem(pki.chain_pem(), pki.key_pem(), alg="rs256")
    assert info.value.code == "bad_algorithm"
    with pytest.raises(SigningError) as info:
        SignerSpec.from_pem(pki.chain_pem(), pki.key_pem(), tsa_url="ftp://tsa")
    assert info.value.code == "bad_tsa_url"


def test_algorithm_that_does_not_fit_the_key(pki: Pki, jpeg: Path) -> None:
    signer = SignerSpec.from_pem(pki.chain_pem(), pki.key_pem(), alg="es384")
    with pytest.raises(CertificateError) as info:
        sign_file(jpeg, jpeg.with_name("o.jpg"), signer=signer, source_type="digitalCapture")
    assert info.value.code == "key_alg_mismatch" and "--alg es256" in info.value.message


# ------------------------------------------------------------------------------ in memory


def test_sign_bytes(es256: SignerSpec, root: Path) -> None:
    data = encode(picture(), "PNG")
    signed, store = sign_bytes(data, "image/png", signer=es256, source_type="digitalCapture")
    assert store and signed != data and len(signed) > len(data)
    report = check_bytes(signed, name="mem.png", trust_anchors=[root])
    assert report.verdict is Verdict.TRUSTED
    again, _ = sign_bytes(
        signed, "image/png", signer=es256, action="edited", parent=signed, parent_title="mem.png"
    )
    nodes = list(iter_nodes(check_bytes(again, name="again.png", trust_anchors=[root]).chain))
    assert len(nodes) == 2 and nodes[1].title == "mem.png"
    with pytest.raises(InputFileError):
        sign_bytes(b"", "image/png", signer=es256)
    with pytest.raises(InputFileError):
        sign_bytes(data, "text/plain", signer=es256)


def test_component_ingredients(es256: SignerSpec, jpeg: Path, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(encode(picture(16, 16, seed=5), "PNG"))
    result = sign_file(
        jpeg,
        tmp_path / "out.jpg",
        signer=es256,
        source_type="composite",
        ingredients=[Ingredient(logo, "componentOf", instance_id="logo")],
        assertions=[
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.placed", "parameters": {"ingredientIds": ["logo"]}}
                    ]
                },
            }
        ],
    )
    report = check(result.path)
    assert [i.title for i in report.chain.ingredients] == ["logo.png"]
    assert json.dumps(report.to_dict())  # serialisable


def test_sdk_messages_are_scrubbed_of_key_material() -> None:
    from provenance.credentials import _c2pa

    pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----"
    blob = "A" * 64
    cleaned = _c2pa._scrub(f"invalid signing credentials ({pem}) near {blob}")
    assert "MIGH" not in cleaned and blob not in cleaned
    assert cleaned.startswith("invalid signing credentials")


@pytest.mark.video
def test_resigning_a_video_keeps_history(es256: SignerSpec, root: Path, tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    src.write_bytes(tiny_mp4())
    first = sign_file(src, tmp_path / "1.mp4", signer=es256, source_type="digitalCapture")
    second = sign_file(first.path, tmp_path / "2.mp4", signer=es256, action="published")
    assert second.history == 2
    report = check(second.path, trust_anchors=[root])
    assert report.verdict is Verdict.TRUSTED, report.summary
    assert len(list(iter_nodes(report.chain))) == 2


def test_remote_manifest_reference_gives_a_warning(
    es256: SignerSpec, pki: Pki, root: Path, jpeg: Path, tmp_path: Path
) -> None:
    import c2pa

    definition = capture_manifest("remote.jpg")
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo("es256", pki.chain_pem(), pki.key_pem(), None)
    )
    out = io.BytesIO()
    with c2pa.Builder(definition) as builder:
        builder.set_no_embed()
        builder.set_remote_url("https://manifests.example.org/abc.c2pa")
        builder.sign(signer, "image/jpeg", io.BytesIO(jpeg.read_bytes()), out)
    remote = tmp_path / "remote.jpg"
    remote.write_bytes(out.getvalue())
    result = sign_file(remote, tmp_path / "out.jpg", signer=es256, source_type="digitalCapture")
    assert result.history == 1
    assert any("manifests.example.org" in w for w in result.warnings)
    assert check(result.path, trust_anchors=[root]).verdict is Verdict.TRUSTED


def test_unwritable_output_is_a_signing_error(
    es256: SignerSpec, jpeg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    def deny(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    with pytest.raises(SigningError) as info:
        sign_file(jpeg, jpeg.with_name("out.jpg"), signer=es256, source_type="digitalCapture")
    assert info.value.code == "output_unwritable" and "Permission denied" in info.value.message


def test_der_certificate_and_key_files(pki: Pki, root: Path, jpeg: Path, tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificates(pki.chain_pem("ed25519"))[0]
    key = serialization.load_pem_private_key(pki.key_pem("ed25519"), None)
    (tmp_path / "ee.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    (tmp_path / "ee.key.der").write_bytes(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signer = SignerSpec.from_files(tmp_path / "ee.der", tmp_path / "ee.key.der")
    assert signer.alg == "ed25519" and signer.cert_chain_pem.startswith(b"-----BEGIN")
    # A lone certificate: the intermediate is missing, and the anchors show it.
    with pytest.raises(CertificateError) as info:
        sign_file(
            jpeg,
            tmp_path / "o.jpg",
            signer=signer,
            source_type="digitalCapture",
            trust_anchors=[root],
        )
    assert info.value.code == "chain_incomplete"
    result = sign_file(jpeg, tmp_path / "o.jpg", signer=signer, source_type="digitalCapture")
    assert any("only the signing certificate" in w for w in result.warnings)
