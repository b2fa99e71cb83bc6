"""The command line behaves alike everywhere: -h, --version, plain metavars, help that fits
80 columns, one watermark-key option, marks that do not silently break credentials."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import typer.main
from PIL import Image
from testkit import CAPTURE, Signed, _signer, encode, picture, sign_bytes
from typer.testing import CliRunner

from verify_cli.app import app


def _commands() -> list[list[str]]:
    """Every command path of ``verify`` (groups included)."""
    out: list[list[str]] = [[]]

    def walk(cmd: Any, path: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            out.append([*path, name])
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


COMMANDS = _commands()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("verify (jinjja) ")


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "verify")
def test_help_everywhere_plain_and_80_columns(runner: CliRunner, path: list[str]) -> None:
    short = runner.invoke(app, [*path, "-h"], env={"COLUMNS": "80"}, terminal_width=80)
    long = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert short.exit_code == 0 and long.exit_code == 0, short.output
    assert short.output == long.output
    text = short.output
    assert "Usage:" in text
    for bad in ("<bool>", "<str>", "<int", "<float", "<path>", "<list[", "<file>"):
        assert bad not in text, (bad, text)
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_old_key_spelling_is_hidden_but_works(tmp_path: Path, runner: CliRunner) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(_photo_array()).save(src)
    out = tmp_path / "out.png"
    res = runner.invoke(
        app, ["watermark", "embed", str(src), "-o", str(out), "--text", "old", "--key", "k1"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["watermark", "detect", str(out), "--wm-key", "k1", "--format", "json"]
    )
    assert json.loads(res.output)[0]["payload_text"] == "old"
    help_text = runner.invoke(app, ["watermark", "embed", "-h"]).output
    assert "--wm-key" in help_text and "--wm-key-file" in help_text
    assert "--key " not in help_text and "--key-file" not in help_text


def test_wm_key_from_environment_and_file(tmp_path: Path, runner: CliRunner) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(_photo_array()).save(src)
    out = tmp_path / "out.png"
    res = runner.invoke(
        app,
        ["watermark", "embed", str(src), "-o", str(out), "--text", "env"],
        env={"JINJJA_WM_KEY": "secret-key"},
    )
    assert res.exit_code == 0, res.output
    key_file = tmp_path / "key.txt"
    key_file.write_text("secret-key\n")
    res = runner.invoke(
        app, ["watermark", "detect", str(out), "--wm-key-file", str(key_file), "--format", "json"]
    )
    assert json.loads(res.output)[0]["payload_text"] == "env"
    res = runner.invoke(app, ["watermark", "detect", str(out), "--format", "json"])
    assert json.loads(res.output)[0]["found"] is False  # the public key finds nothing


def test_marking_a_signed_file_stops_unless_credentials_are_dropped(
    tmp_path: Path, runner: CliRunner, signed: Signed
) -> None:
    img = Image.fromarray(_photo_array())
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><note>kept</note></x:xmpmeta>'
    jpeg = encode(img, "JPEG", quality=92, exif=exif.tobytes(), xmp=xmp)
    src = tmp_path / "signed.jpg"
    src.write_bytes(sign_bytes(CAPTURE, jpeg, "image/jpeg", _signer(signed.pki, "es256"))[0])
    out = tmp_path / "marked.jpg"

    res = runner.invoke(app, ["watermark", "embed", str(src), "-o", str(out), "--text", "x"])
    assert res.exit_code == 2
    assert "Content Credentials" in res.output and "verify sign --watermark" in res.output
    assert not out.exists()

    res = runner.invoke(
        app, ["watermark", "embed", str(src), "-o", str(out), "--text", "x", "--drop-credentials"]
    )
    assert res.exit_code == 0, res.output
    with Image.open(out) as im:
        assert im.getexif()[0x010F] == "TestCam"
        assert b"kept" in im.info["xmp"]
    res = runner.invoke(app, ["check", str(out), "--format", "json", "--no-generator-marks"])
    assert json.loads(res.output)["verdict"] == "NO_CREDENTIALS"


def test_unsigned_picture_is_marked_without_the_flag(tmp_path: Path, runner: CliRunner) -> None:
    src = tmp_path / "plain.jpg"
    src.write_bytes(encode(picture(320, 320), "JPEG", quality=92))
    out = tmp_path / "marked.jpg"
    res = runner.invoke(app, ["watermark", "embed", str(src), "-o", str(out), "--text", "x"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("header", [True, False])
def test_bank_import_with_or_without_header(
    tmp_path: Path, runner: CliRunner, header: bool
) -> None:
    hashes = [f"{i * 0x9E3779B97F4A7C15:064x}" for i in range(1, 4)]
    rows = [[h, "100", f"name{i}"] for i, h in enumerate(hashes)]
    src = tmp_path / "list.csv"
    with src.open("w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(["hash", "quality", "label"])
        w.writerows(rows)
    bank = tmp_path / "bank.db"
    res = runner.invoke(app, ["bank", "import", str(bank), str(src), "--json"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "export.csv"
    res = runner.invoke(app, ["bank", "export", str(bank), "-o", str(out)])
    assert res.exit_code == 0, res.output
    with out.open(newline="") as f:
        exported = list(csv.DictReader(f))
    assert sorted(r["pdq"] for r in exported) == sorted(hashes)
    assert sorted(r["label"] for r in exported) == ["name0", "name1", "name2"]


def test_bank_import_reads_its_own_export_without_header(tmp_path: Path, runner: CliRunner) -> None:
    bank = tmp_path / "a.db"
    src = tmp_path / "list.csv"
    src.write_text("hash\n" + f"{12345:064x}\n")
    assert runner.invoke(app, ["bank", "import", str(bank), str(src)]).exit_code == 0
    out = tmp_path / "export.csv"
    assert runner.invoke(app, ["bank", "export", str(bank), "-o", str(out)]).exit_code == 0
    body = out.read_text().splitlines()[1:]  # drop the header row
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(body) + "\n")
    res = runner.invoke(app, ["bank", "import", str(tmp_path / "b.db"), str(bare), "--json"])
    assert res.exit_code == 0, res.output


def test_generator_marks_on_by_default(runner: CliRunner, signed: Signed) -> None:
    res = runner.invoke(app, ["check", str(signed.unsigned_jpeg), "--format", "json"])
    assert res.exit_code == 0, res.output
    res2 = runner.invoke(
        app, ["check", str(signed.unsigned_jpeg), "--format", "json", "--no-generator-marks"]
    )
    assert res2.exit_code == 0, res2.output


def _photo_array() -> Any:
    import numpy as np
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[::2, ::2])


@pytest.mark.parametrize(
    "path", [["sign"], ["check"], ["watermark", "embed"], ["watermark", "detect"], ["serve"]]
)
def test_every_mark_command_takes_the_same_key_options(runner: CliRunner, path: list[str]) -> None:
    text = runner.invoke(app, [*path, "-h"], env={"COLUMNS": "200"}).output
    assert "--wm-key KEY" in text and "--wm-key-file FILE" in text
    assert "JINJJA_WM_KEY" in text


def test_key_in_environment_is_harmless_where_unused(
    tmp_path: Path, runner: CliRunner, signed: Signed
) -> None:
    env = {"JINJJA_WM_KEY": "desk key"}
    res = runner.invoke(
        app, ["check", str(signed.jpeg_es256), "--format", "json", "--no-generator-marks"], env=env
    )
    assert res.exit_code == 0, res.output
    explicit = runner.invoke(app, ["check", str(signed.jpeg_es256), "--wm-key", "k"])
    assert explicit.exit_code == 2 and "--wm-key needs --repo or --resolver" in explicit.output


def test_format_means_the_same_on_every_command(tmp_path: Path, runner: CliRunner) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(_photo_array()).save(src)
    marked = tmp_path / "marked.png"
    assert (
        runner.invoke(
            app, ["watermark", "embed", str(src), "-o", str(marked), "--text", "fmt"]
        ).exit_code
        == 0
    )
    detect = ["watermark", "detect", str(marked), "--format"]
    table = runner.invoke(app, [*detect, "table"]).output
    assert table == runner.invoke(app, [*detect, "text"]).output  # the old spelling
    assert "watermark found" in table
    as_json = json.loads(runner.invoke(app, [*detect, "json"]).output)
    as_jsonl = [
        json.loads(line) for line in runner.invoke(app, [*detect, "jsonl"]).output.splitlines()
    ]
    assert as_json == as_jsonl and as_json[0]["payload_text"] == "fmt"
    rows = list(csv.DictReader(runner.invoke(app, [*detect, "csv"]).output.splitlines()))
    assert rows[0]["subject.path"] == str(marked) and rows[0]["payload_text"] == "fmt"
    assert rows[0]["found"] == "true"


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
def test_trust_show_takes_every_format(runner: CliRunner, fmt: str) -> None:
    res = runner.invoke(app, ["trust", "show", "--format", fmt])
    assert res.exit_code == 0, res.output
    if fmt == "json":
        assert "lists" in json.loads(res.stdout)
    elif fmt == "jsonl":
        assert len(res.stdout.splitlines()) == 1 and "lists" in json.loads(res.stdout)
    elif fmt == "csv":
        assert res.stdout.splitlines()[0] == "name,source,issued,sha256,certificates,fetched_at"


def test_check_table_is_text(runner: CliRunner, signed: Signed) -> None:
    base = ["check", str(signed.jpeg_es256), "--no-generator-marks", "--format"]
    table = runner.invoke(app, [*base, "table"])
    assert table.exit_code == 0 and table.output == runner.invoke(app, [*base, "text"]).output
