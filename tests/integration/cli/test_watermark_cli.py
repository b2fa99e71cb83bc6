"""``verify watermark embed`` / ``detect`` through real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from verify_cli.app import app


def _photo(path: Path, *, icc: bool = False) -> Path:
    import skimage.data

    a = skimage.data.astronaut()
    im = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    kw = {"exif": exif.tobytes()}
    if icc:
        from PIL import ImageCms

        kw["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im.save(path, **kw)
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_round_trip_through_jpeg(tmp_path: Path, runner: CliRunner) -> None:
    src = _photo(tmp_path / "in.png", icc=True)
    out = tmp_path / "out.jpg"
    res = runner.invoke(app, ["watermark", "embed", str(src), "-o", str(out), "--text", "jinjja"])
    assert res.exit_code == 0, res.output
    with Image.open(out) as im:
        assert im.format == "JPEG"
        assert im.info.get("icc_profile")
        assert im.getexif().get(0x010F) == "TestCam"
    res = runner.invoke(app, ["watermark", "detect", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    (rec,) = json.loads(res.stdout)
    assert set(rec) == {
        "found",
        "payload_hex",
        "payload_text",
        "score",
        "p_value",
        "geometry",
        "subject",
    }
    assert rec["found"] is True
    assert rec["payload_hex"] == b"jinjja".hex() and rec["payload_text"] == "jinjja"
    assert rec["p_value"] <= 1e-6 and rec["subject"] == {"path": str(out)}
    assert rec["geometry"]["flipped"] is False


def test_key_file_and_exit_codes(tmp_path: Path, runner: CliRunner) -> None:
    src = _photo(tmp_path / "in.png")
    keyf = tmp_path / "key.txt"
    keyf.write_bytes(b"publisher secret\n")
    out = tmp_path / "out.png"
    args = ["watermark", "embed", str(src), "-o", str(out), "--payload", "00ff10"]
    res = runner.invoke(app, [*args, "--key-file", str(keyf)])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    res = runner.invoke(app, ["watermark", "detect", str(out), "--key", "publisher secret"])
    assert res.exit_code == 0 and "00ff10" in res.stdout
    det = ["watermark", "detect", str(out), str(src), "--key-file", str(keyf), "--format", "jsonl"]
    res = runner.invoke(app, det)
    assert res.exit_code == 1
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["found"] for r in recs] == [True, False]
    assert recs[0]["payload_text"] is None  # b"\x00\xff\x10" is not printable
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    res = runner.invoke(app, [*det, str(bad), str(empty)])
    assert res.exit_code == 3
    assert f"verify: {bad}:" in res.stderr and "is empty (0 bytes)" in res.stderr
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["found"] for r in recs] == [True, False, None, None]  # nothing is lost
    assert [r["subject"]["path"] for r in recs[2:]] == [str(bad), str(empty)]
    assert (
        recs[2]["error"]["code"] == "unreadable" and "not a picture" in recs[2]["error"]["message"]
    )
    assert recs[3]["error"]["message"] == "is empty (0 bytes)"


def test_refuses_to_overwrite(tmp_path: Path, runner: CliRunner) -> None:
    src = _photo(tmp_path / "in.png")
    before = src.read_bytes()
    res = runner.invoke(app, ["watermark", "embed", str(src), "-o", str(src), "--text", "x"])
    assert res.exit_code == 2 and "--force" in res.output
    assert src.read_bytes() == before
    res = runner.invoke(
        app, ["watermark", "embed", str(src), "-o", str(src), "--text", "x", "--force"]
    )
    assert res.exit_code == 0
    assert not list(tmp_path.glob(".verify-*"))


@pytest.mark.parametrize(
    "extra",
    [
        ["--text", "123456789"],
        ["--payload", "zz"],
        ["--payload", "00", "--text", "a"],
        [],
        ["--text", "a", "--psnr", "5"],
        ["--text", "a", "--profile", "loud"],
    ],
)
def test_usage_errors(tmp_path: Path, runner: CliRunner, extra: list[str]) -> None:
    src = _photo(tmp_path / "in.png")
    res = runner.invoke(
        app, ["watermark", "embed", str(src), "-o", str(tmp_path / "o.png"), *extra]
    )
    assert res.exit_code == 2


def test_embed_unreadable_input(tmp_path: Path, runner: CliRunner) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    res = runner.invoke(
        app, ["watermark", "embed", str(bad), "-o", str(tmp_path / "o.png"), "--text", "a"]
    )
    assert res.exit_code == 3 and "verify:" in res.stderr


def test_too_small_image_is_input_error(tmp_path: Path, runner: CliRunner) -> None:
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(small)
    res = runner.invoke(
        app, ["watermark", "embed", str(small), "-o", str(tmp_path / "o.png"), "--text", "a"]
    )
    assert res.exit_code == 3 and "256" in res.stderr


def test_subtle_profile_round_trip_and_is_quieter_in_flat_areas(
    tmp_path: Path, runner: CliRunner
) -> None:
    src = _photo(tmp_path / "in.png")
    outs = {}
    for profile in ("robust", "subtle"):
        out = tmp_path / f"{profile}.png"
        res = runner.invoke(
            app,
            ["watermark", "embed", str(src), "-o", str(out), "--text", "p", "--profile", profile],
        )
        assert res.exit_code == 0, res.output
        res = runner.invoke(app, ["watermark", "detect", str(out), "--format", "json"])
        assert json.loads(res.stdout)[0]["payload_text"] == "p"
        outs[profile] = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    orig = np.asarray(Image.open(src).convert("L"), dtype=np.float64)
    # The flattest 10 % of 16-px blocks: the subtle profile changes them less.
    blocks = orig[:512, :512].reshape(32, 16, 32, 16).std(axis=(1, 3))
    flat = np.kron(blocks <= np.quantile(blocks, 0.1), np.ones((16, 16), dtype=bool))
    diff = {k: np.abs(v[:512, :512] - orig[:512, :512]) for k, v in outs.items()}
    change = {k: float(d[flat].mean()) for k, d in diff.items()}
    assert change["subtle"] < 0.6 * change["robust"]
