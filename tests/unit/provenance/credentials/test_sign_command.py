"""SignerSpec.from_command: an external program signs (bytes on stdin, signature on stdout)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from testkit import encode, picture

from provenance import check
from provenance.credentials.sign import SignerSpec, SigningError, sign_file
from provenance.report import Verdict
from provenance.testing.pki import Pki, make_pki

# A stand-in for a KMS/HSM client: reads the key from a file the signing process never sees.
SIGNER = textwrap.dedent(
    """
    import sys
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    key_path, mode = sys.argv[1], sys.argv[2]
    data = sys.stdin.buffer.read()
    if mode == "fail":
        sys.stderr.write("kms: permission denied for key alias 'news-desk'\\n")
        sys.exit(7)
    key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
        if mode == "raw":
            from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
            r, s = decode_dss_signature(sig)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        sig = key.sign(data, pss, hashes.SHA256())
    else:
        sig = key.sign(data)
    if mode == "hex":
        sys.stdout.write(sig.hex())
    else:
        sys.stdout.buffer.write(sig)
    """
)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki("Command Signer", seed=b"cmd-tests")


@pytest.fixture
def setup(pki: Pki, tmp_path: Path) -> dict[str, Path]:
    script = tmp_path / "kms_sign.py"
    script.write_text(SIGNER)
    files = {"script": script, "src": tmp_path / "photo.jpg", "root": tmp_path / "root.pem"}
    files["src"].write_bytes(encode(picture(), "JPEG", quality=90))
    files["root"].write_bytes(pki.root_pem)
    for alg in ("es256", "ed25519", "ps256"):
        (tmp_path / f"{alg}.chain.pem").write_bytes(pki.chain_pem(alg))
        (tmp_path / f"{alg}.key").write_bytes(pki.key_pem(alg))
    return files


def _cmd(setup: dict[str, Path], alg: str, mode: str = "der") -> str:
    key = setup["script"].parent / f"{alg}.key"
    return f"{sys.executable} {setup['script']} {key} {mode}"


@pytest.mark.parametrize(("alg", "mode"), [("es256", "der"), ("es256", "raw"), ("ed25519", "der")])
def test_external_signer(setup: dict[str, Path], alg: str, mode: str) -> None:
    chain = setup["script"].parent / f"{alg}.chain.pem"
    signer = SignerSpec.from_command(_cmd(setup, alg, mode), chain, alg=alg)
    assert signer.key_pem is None and signer.command is not None
    result = sign_file(
        setup["src"], setup["src"].with_name("out.jpg"), signer=signer, source_type="digitalCapture"
    )
    report = check(result.path, trust_anchors=[setup["root"]])
    assert report.verdict is Verdict.TRUSTED, report.summary


def test_external_rsa_pss_signer(setup: dict[str, Path]) -> None:
    chain = setup["script"].parent / "ps256.chain.pem"
    signer = SignerSpec.from_command(_cmd(setup, "ps256"), chain, alg="ps256")
    result = sign_file(
        setup["src"], setup["src"].with_name("out.jpg"), signer=signer, source_type="digitalCapture"
    )
    assert check(result.path, trust_anchors=[setup["root"]]).verdict is Verdict.TRUSTED


def test_failing_command_says_why(setup: dict[str, Path]) -> None:
    chain = setup["script"].parent / "es256.chain.pem"
    signer = SignerSpec.from_command(_cmd(setup, "es256", "fail"), chain, alg="es256")
    out = setup["src"].with_name("out.jpg")
    with pytest.raises(SigningError) as info:
        sign_file(setup["src"], out, signer=signer, source_type="digitalCapture")
    assert info.value.code == "signer_failed"
    assert "exit status 7" in info.value.message and "news-desk" in info.value.message
    assert not out.exists() and not list(out.parent.glob("*.part"))


def test_signature_from_the_wrong_key(setup: dict[str, Path]) -> None:
    # The ES256 certificate, but the command signs with the Ed25519 key.
    chain = setup["script"].parent / "es256.chain.pem"
    signer = SignerSpec.from_command(_cmd(setup, "ed25519"), chain, alg="es256")
    with pytest.raises(SigningError) as info:
        sign_file(
            setup["src"],
            setup["src"].with_name("o.jpg"),
            signer=signer,
            source_type="digitalCapture",
        )
    assert info.value.code == "signer_bad_signature"


def test_text_output_gets_a_hint(setup: dict[str, Path]) -> None:
    chain = setup["script"].parent / "es256.chain.pem"
    signer = SignerSpec.from_command(_cmd(setup, "es256", "hex"), chain, alg="es256")
    with pytest.raises(SigningError, match="raw signature bytes"):
        sign_file(
            setup["src"],
            setup["src"].with_name("o.jpg"),
            signer=signer,
            source_type="digitalCapture",
        )


def test_command_problems_are_found_early(setup: dict[str, Path]) -> None:
    chain = setup["script"].parent / "es256.chain.pem"
    for cmd in ("", "/nonexistent/kms-sign --key x", "unbalanced 'quote"):
        with pytest.raises(SigningError) as info:
            SignerSpec.from_command(cmd, chain, alg="es256")
        assert info.value.code == "bad_signer_command"
    with pytest.raises(SigningError):
        SignerSpec.from_command(_cmd(setup, "es256"), chain, alg="md5")


def test_timeout(setup: dict[str, Path], tmp_path: Path) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("import time, sys\nsys.stdin.buffer.read()\ntime.sleep(30)\n")
    chain = setup["script"].parent / "es256.chain.pem"
    signer = SignerSpec.from_command(f"{sys.executable} {slow}", chain, alg="es256", timeout=0.5)
    with pytest.raises(SigningError) as info:
        sign_file(
            setup["src"],
            setup["src"].with_name("o.jpg"),
            signer=signer,
            source_type="digitalCapture",
        )
    assert info.value.code == "signer_timeout"
