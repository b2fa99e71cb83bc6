"""``verify sign`` end to end: files, folders, history, certificates, keys, signers, TSA."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from testkit import encode
from typer.testing import CliRunner

from provenance.testing.pki import Pki, make_pki
from provenance.testing.tsa import TimeStampAuthority, serve
from verify_cli.app import app
from verify_cli.exit_codes import ExitCode


def picture(*, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64]
    base = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1) + rng.normal(0, 6, (48, 64, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki("CLI Sign", algs=("es256", "ed25519"), seed=b"cli-sign")


@pytest.fixture
def env(pki: Pki, tmp_path: Path) -> dict[str, Path]:
    written = pki.write_to(tmp_path / "ca")
    photos = tmp_path / "photos"
    (photos / "day2").mkdir(parents=True)
    (photos / "a.jpg").write_bytes(encode(picture(seed=1), "JPEG", quality=90))
    (photos / "day2" / "b.png").write_bytes(encode(picture(seed=2), "PNG"))
    (photos / "day2" / "c.webp").write_bytes(encode(picture(seed=3), "WEBP"))
    (photos / "notes.txt").write_text("not media, skipped while walking\n")
    (photos / ".hidden.jpg").write_bytes(encode(picture(seed=4), "JPEG"))
    return {
        "dir": tmp_path,
        "photos": photos,
        "chain": written["es256.chain"],
        "key": written["es256.key"],
        "root": written["root"],
        "ed_chain": written["ed25519.chain"],
        "ed_key": written["ed25519.key"],
    }


def _sign(runner: CliRunner, env: dict[str, Path], *args: str, key: bool = True) -> Any:
    base = ["sign", "--cert", str(env["chain"])]
    if key:
        base += ["--key", str(env["key"])]
    return runner.invoke(app, [*base, *args])


def _check(runner: CliRunner, path: Path, root: Path) -> dict[str, Any]:
    result = runner.invoke(
        app, ["check", "--format", "json", "--trust-anchors", str(root), str(path)]
    )
    data = json.loads(result.stdout)
    return data[0] if isinstance(data, list) else data


def test_sign_one_file_then_check(runner: CliRunner, env: dict[str, Path]) -> None:
    out = env["dir"] / "signed.jpg"
    res = _sign(
        runner, env, str(env["photos"] / "a.jpg"), "-o", str(out), "--source-type", "digitalCapture"
    )
    assert res.exit_code == ExitCode.OK, res.stderr
    assert res.stdout.strip() == f"{out}: signed (es256)"
    assert res.stderr == ""
    record = _check(runner, out, env["root"])
    assert record["verdict"] == "TRUSTED"
    assert record["chain"]["title"] == "signed.jpg"


def test_resign_keeps_history(runner: CliRunner, env: dict[str, Path]) -> None:
    first, second = env["dir"] / "1.jpg", env["dir"] / "2.jpg"
    assert (
        _sign(
            runner,
            env,
            str(env["photos"] / "a.jpg"),
            "-o",
            str(first),
            "--source-type",
            "digitalCapture",
        ).exit_code
        == 0
    )
    res = runner.invoke(
        app,
        [
            "sign", str(first), "-o", str(second), "--cert", str(env["ed_chain"]),
            "--key", str(env["ed_key"]), "--action", "published", "--author", "Kim Ji-woo",
            "--title", "Front page", "--trust-anchors", str(env["root"]), "--format", "jsonl",
        ],
    )  # fmt: skip
    assert res.exit_code == ExitCode.OK, res.stderr
    rec = json.loads(res.stdout)
    assert rec["status"] == "signed" and rec["alg"] == "ed25519"
    assert rec["history"] == 2 and rec["parent"] == "1.jpg"
    record = _check(runner, second, env["root"])
    assert record["verdict"] == "TRUSTED"
    chain = record["chain"]
    assert chain["title"] == "Front page"
    assert [a["action"] for a in chain["actions"]] == ["c2pa.opened", "c2pa.published"]
    assert chain["ingredients"][0]["relationship"] == "parentOf"
    assert chain["ingredients"][0]["label"] is not None

    import c2pa

    with c2pa.Reader(str(second)) as reader:
        labels = {a["label"]: a["data"] for a in reader.get_active_manifest()["assertions"]}
    assert labels["stds.schema-org.CreativeWork"]["author"][0]["name"] == "Kim Ji-woo"


def test_folder_with_a_corrupt_file(runner: CliRunner, env: dict[str, Path]) -> None:
    (env["photos"] / "day2" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    out = env["dir"] / "out"
    res = _sign(runner, env, str(env["photos"]), "-o", str(out), "--source-type", "digitalCapture")
    assert res.exit_code == ExitCode.INPUT_ERROR
    signed = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert signed == ["a.jpg", "day2/b.png", "day2/c.webp"]
    assert f"verify: {env['photos'] / 'day2' / 'broken.jpg'}: The file is damaged" in res.stderr
    assert "signed 3 of 4 file(s); 1 failed" in res.stderr
    assert len(res.stdout.splitlines()) == 3
    assert not list(out.rglob("*.part"))
    for path in out.rglob("*.*"):
        assert _check(runner, path, env["root"])["verdict"] == "TRUSTED"


def test_folder_jsonl_records(runner: CliRunner, env: dict[str, Path]) -> None:
    out = env["dir"] / "out"
    missing = env["dir"] / "missing.jpg"
    res = _sign(
        runner, env, str(env["photos"]), str(missing), "-o", str(out), "--source-type",
        "trainedAlgorithmicMedia", "--format", "jsonl",
    )  # fmt: skip
    assert res.exit_code == ExitCode.INPUT_ERROR
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["status"] for r in records] == ["signed", "signed", "signed", "error"]
    assert records[-1]["input"] == str(missing) and records[-1]["output"] is None
    assert all(r["manifest"].startswith("urn:c2pa:") for r in records[:3])


def test_overwrite_is_refused_without_force(runner: CliRunner, env: dict[str, Path]) -> None:
    out = env["dir"] / "out.jpg"
    out.write_bytes(b"keep me")
    args = (str(env["photos"] / "a.jpg"), "-o", str(out), "--source-type", "digitalCapture")
    res = _sign(runner, env, *args)
    assert res.exit_code == ExitCode.USAGE and "--force" in res.stderr
    assert out.read_bytes() == b"keep me"
    assert _sign(runner, env, *args, "--force").exit_code == ExitCode.OK
    assert out.read_bytes() != b"keep me"
    # In place: refused even with --force.
    src = env["photos"] / "a.jpg"
    before = src.read_bytes()
    res = _sign(runner, env, str(src), "-o", str(src), "--source-type", "digitalCapture", "--force")
    assert res.exit_code == ExitCode.USAGE and "is the input" in res.stderr
    assert src.read_bytes() == before


def test_existing_file_in_output_folder_fails_alone(
    runner: CliRunner, env: dict[str, Path]
) -> None:
    out = env["dir"] / "out"
    (out / "day2").mkdir(parents=True)
    (out / "day2" / "b.png").write_bytes(b"older")
    res = _sign(runner, env, str(env["photos"]), "-o", str(out), "--source-type", "digitalCapture")
    assert res.exit_code == ExitCode.INPUT_ERROR
    assert "b.png exists" in res.stderr and "signed 2 of 3" in res.stderr
    assert (out / "day2" / "b.png").read_bytes() == b"older"


@pytest.mark.parametrize(
    ("kind", "needle"),
    [("expired", "expired on"), ("bad_eku", "serverAuth"), ("not_yet_valid", "not valid before")],
)
def test_bad_certificate_is_named(
    runner: CliRunner, env: dict[str, Path], kind: str, needle: str
) -> None:
    bad = make_pki("Bad", algs=("es256",), seed=b"bad-cli", **{kind: True})
    written = bad.write_to(env["dir"] / "bad")
    out = env["dir"] / "x.jpg"
    res = runner.invoke(
        app,
        [
            "sign", str(env["photos"] / "a.jpg"), "-o", str(out),
            "--cert", str(written["es256.chain"]), "--key", str(written["es256.key"]),
            "--source-type", "digitalCapture",
        ],
    )  # fmt: skip
    assert res.exit_code == ExitCode.USAGE
    assert "verify: certificate:" in res.stderr and needle in res.stderr
    assert "cannot sign with this certificate" in res.stderr
    assert not out.exists()


def test_key_of_another_certificate_and_wrong_alg(runner: CliRunner, env: dict[str, Path]) -> None:
    src = str(env["photos"] / "a.jpg")
    out = str(env["dir"] / "x.jpg")
    res = runner.invoke(
        app,
        ["sign", src, "-o", out, "--cert", str(env["chain"]), "--key", str(env["ed_key"]),
         "--source-type", "digitalCapture"],
    )  # fmt: skip
    assert res.exit_code == ExitCode.USAGE and "does not belong" in res.stderr
    res = _sign(runner, env, src, "-o", out, "--alg", "ps256", "--source-type", "digitalCapture")
    assert res.exit_code == ExitCode.USAGE and "--alg es256" in res.stderr


def test_bad_key_file_is_never_echoed(runner: CliRunner, env: dict[str, Path]) -> None:
    secret = "c2VjcmV0LWtleS1tYXRlcmlhbC1kby1ub3QtbGVhaw" * 2
    bad = env["dir"] / "broken.key"
    bad.write_text(f"-----BEGIN EC PRIVATE KEY-----\n{secret}\n-----END EC PRIVATE KEY-----\n")
    for verbose in ([], ["-v"]):
        res = runner.invoke(
            app,
            ["sign", str(env["photos"] / "a.jpg"), "-o", str(env["dir"] / "x.jpg"),
             "--cert", str(env["chain"]), "--key", str(bad), "--source-type", "digitalCapture",
             *verbose],
        )  # fmt: skip
        assert res.exit_code == ExitCode.USAGE
        assert "broken.key" in res.stderr and "not a readable private key" in res.stderr
        assert secret[:20] not in res.stdout + res.stderr
        assert "BEGIN" not in res.stderr


SIGNER = textwrap.dedent(
    """
    import sys
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
    sys.stdout.buffer.write(key.sign(sys.stdin.buffer.read(), ec.ECDSA(hashes.SHA256())))
    """
)


def test_external_signer_command(runner: CliRunner, env: dict[str, Path]) -> None:
    script = env["dir"] / "hsm_sign.py"
    script.write_text(SIGNER)
    out = env["dir"] / "hsm.jpg"
    res = _sign(
        runner, env, str(env["photos"] / "a.jpg"), "-o", str(out), "--source-type",
        "digitalCapture", "--signer-cmd", f"{sys.executable} {script} {env['key']}", key=False,
    )  # fmt: skip
    assert res.exit_code == ExitCode.OK, res.stderr
    assert _check(runner, out, env["root"])["verdict"] == "TRUSTED"
    both = _sign(runner, env, str(env["photos"] / "a.jpg"), "-o", str(out), "--signer-cmd", "x")
    assert both.exit_code == ExitCode.USAGE and "not both" in both.stderr
    neither = _sign(runner, env, str(env["photos"] / "a.jpg"), "-o", str(out), key=False)
    assert neither.exit_code == ExitCode.USAGE and "--signer-cmd" in neither.stderr


@pytest.mark.network
def test_timestamp_authority(runner: CliRunner, env: dict[str, Path], pki: Pki) -> None:
    out = env["dir"] / "stamped.jpg"
    with serve(TimeStampAuthority.from_pki(pki)) as url:
        res = _sign(
            runner, env, str(env["photos"] / "a.jpg"), "-o", str(out), "--source-type",
            "digitalCapture", "--tsa", url, "--format", "jsonl",
        )  # fmt: skip
    assert res.exit_code == ExitCode.OK, res.stderr
    assert json.loads(res.stdout)["timestamp"] is not None
    record = _check(runner, out, env["root"])
    assert record["chain"]["signing_time_source"] == "timestamp"


def test_manifest_json_inline_and_file(runner: CliRunner, env: dict[str, Path]) -> None:
    definition = {
        "claim_generator_info": [{"name": "Newsroom CMS", "version": "4.2"}],
        "assertions": [{"label": "org.example.desk", "data": {"desk": "photo"}}],
    }
    src = str(env["photos"] / "a.jpg")
    inline = _sign(
        runner, env, src, "-o", str(env["dir"] / "i.jpg"), "--source-type", "digitalCapture",
        "--manifest", json.dumps(definition),
    )  # fmt: skip
    assert inline.exit_code == ExitCode.OK, inline.stderr
    file = env["dir"] / "m.json"
    file.write_text(json.dumps(definition))
    from_file = _sign(
        runner, env, src, "-o", str(env["dir"] / "f.jpg"), "--source-type", "digitalCapture",
        "--manifest", str(file),
    )  # fmt: skip
    assert from_file.exit_code == ExitCode.OK, from_file.stderr
    assert _check(runner, env["dir"] / "f.jpg", env["root"])["chain"]["claim_generator"] == (
        "Newsroom CMS"
    )
    bad = _sign(runner, env, src, "-o", str(env["dir"] / "b.jpg"), "--manifest", "{nope")
    assert bad.exit_code == ExitCode.USAGE and "not valid JSON" in bad.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--action", "exploded", "--source-type", "digitalCapture"], "Unknown action"),
        (["--source-type", "dreamt"], "Unknown digital source type"),
        (["--alg", "rs256"], "Unknown signing algorithm"),
        (["--tsa", "not a url", "--source-type", "digitalCapture"], "time-stamping"),
        (["--author", " ", "--source-type", "digitalCapture"], "--author"),
        (["--trust-anchors", "/nonexistent.pem"], "--trust-anchors"),
    ],
)
def test_usage_errors(
    runner: CliRunner, env: dict[str, Path], args: list[str], needle: str
) -> None:
    res = _sign(runner, env, str(env["photos"] / "a.jpg"), "-o", str(env["dir"] / "x.jpg"), *args)
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert needle in res.stderr
    assert not (env["dir"] / "x.jpg").exists()


def test_parent_applies_to_one_file(runner: CliRunner, env: dict[str, Path]) -> None:
    res = _sign(
        runner, env, str(env["photos"]), "-o", str(env["dir"] / "o"), "--parent",
        str(env["photos"] / "a.jpg"),
    )  # fmt: skip
    assert res.exit_code == ExitCode.USAGE and "--parent" in res.stderr


def test_missing_source_type_is_explained(runner: CliRunner, env: dict[str, Path]) -> None:
    res = _sign(runner, env, str(env["photos"] / "a.jpg"), "-o", str(env["dir"] / "x.jpg"))
    assert res.exit_code == ExitCode.INPUT_ERROR
    assert "digital source type" in res.stderr


def test_output_folder_inside_the_input_folder(runner: CliRunner, env: dict[str, Path]) -> None:
    out = env["photos"] / "signed"
    args = (str(env["photos"]), "-o", str(out), "--source-type", "digitalCapture")
    assert _sign(runner, env, *args).exit_code == ExitCode.OK
    # A second run does not sign the signed copies again: the output folder is not walked.
    again = _sign(runner, env, *args, "--force")
    assert again.exit_code == ExitCode.OK
    assert "signed 3 of 3 file(s)" in again.stderr
    found = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert found == ["a.jpg", "day2/b.png", "day2/c.webp"]


def test_output_ending_with_a_slash_is_a_folder(runner: CliRunner, env: dict[str, Path]) -> None:
    out = env["dir"] / "new"
    res = _sign(
        runner, env, str(env["photos"] / "a.jpg"), "-o", f"{out}/", "--source-type",
        "digitalCapture",
    )  # fmt: skip
    assert res.exit_code == ExitCode.OK, res.stderr
    assert (out / "a.jpg").is_file()


def test_missing_certificate_or_key_file(runner: CliRunner, env: dict[str, Path]) -> None:
    src, out = str(env["photos"] / "a.jpg"), str(env["dir"] / "x.jpg")
    res = runner.invoke(
        app, ["sign", src, "-o", out, "--cert", str(env["dir"] / "none.pem"), "--key",
              str(env["key"]), "--source-type", "digitalCapture"],
    )  # fmt: skip
    assert res.exit_code == ExitCode.USAGE and "none.pem does not exist" in res.stderr
    res = runner.invoke(
        app, ["sign", src, "-o", out, "--cert", str(env["chain"]), "--key", str(env["dir"]),
              "--source-type", "digitalCapture"],
    )  # fmt: skip
    assert res.exit_code == ExitCode.USAGE and "is a directory" in res.stderr
