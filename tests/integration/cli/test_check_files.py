"""`verify check` on real files: signed test files, bad inputs, -r, --output, --fixed-time."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from verify_cli.app import app
from verify_cli.exit_codes import ExitCode
from verify_cli.render import CSV_COLUMNS

FIXED = "2026-11-21T10:00:00Z"


def _records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def _check(runner: CliRunner, *args: str | os.PathLike[str]) -> Any:
    return runner.invoke(app, ["check", *(str(a) for a in args)])


def test_verdicts_of_signed_files(runner: CliRunner, signed: Any) -> None:
    files = [
        signed.jpeg_es256,
        signed.publish,
        signed.tampered_pixels,
        signed.tampered_manifest,
        signed.unsigned_jpeg,
        signed.ai_ingredient,
    ]
    result = _check(runner, "--trust-anchors", signed.root, *files)
    assert result.exit_code == ExitCode.OK, result.output
    records = _records(result.stdout)
    assert [r["subject"]["path"] for r in records] == [str(f) for f in files]
    assert [r["verdict"] for r in records] == [
        "TRUSTED",
        "TRUSTED",
        "INCOMPLETE",
        "INVALID",
        "NO_CREDENTIALS",
        "TRUSTED",
    ]
    assert records[5]["ai"]["label"] == "AI_GENERATED"
    chain = records[1]["chain"]
    assert chain["ingredients"][0]["relationship"] == "parentOf"
    assert chain["ingredients"][0]["ingredients"][0]["title"] == "capture.jpg"
    assert result.stderr == ""


def test_untrusted_without_anchors_and_fail_on(runner: CliRunner, signed: Any) -> None:
    result = _check(runner, "--fail-on", "untrusted", signed.jpeg_es256)
    assert result.exit_code == ExitCode.CONDITION_MET
    assert _records(result.stdout)[0]["verdict"] == "VALID_UNTRUSTED"
    anchors = ["--trust-anchors", signed.root]
    ok = _check(runner, *anchors, "--fail-on", "untrusted,no-credentials", signed.jpeg_es256)
    assert ok.exit_code == ExitCode.OK
    bad = _check(
        runner, *anchors, "--fail-on", "invalid", signed.jpeg_es256, signed.tampered_pixels
    )
    assert bad.exit_code == ExitCode.CONDITION_MET
    ai = _check(runner, *anchors, "--fail-on", "ai", signed.ai_ingredient)
    assert ai.exit_code == ExitCode.CONDITION_MET


def test_text_shows_chain_and_unreliable_nodes(runner: CliRunner, signed: Any) -> None:
    result = runner.invoke(
        app,
        ["check", "--format", "text", "--trust-anchors", str(signed.root)]
        + [str(signed.publish), str(signed.tampered_pixels)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0
    out = result.stdout
    assert "TRUSTED" in out and "INCOMPLETE" in out
    assert "parentOf: chain2_edit.jpg" in out
    assert "parentOf: capture.jpg" in out
    assert "componentOf: logo.png" in out
    assert "not to be relied on" in out
    assert "Published" in out


def test_json_and_csv_on_real_files(runner: CliRunner, signed: Any) -> None:
    files = (signed.jpeg_es256, signed.unsigned_jpeg)
    as_json = _check(runner, "--format", "json", "--trust-anchors", signed.root, *files)
    assert [r["verdict"] for r in json.loads(as_json.stdout)] == ["TRUSTED", "NO_CREDENTIALS"]
    as_csv = _check(runner, "--format", "csv", "--trust-anchors", signed.root, *files)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert rows[0]["verdict"] == "TRUSTED"
    assert rows[0]["issuer"] == "Jinjja Test"
    assert rows[0]["actions"] == "c2pa.created"
    assert rows[0]["media_type"] == "image/jpeg"
    assert int(rows[0]["width"]) == 96
    assert len(rows[0]["sha256"]) == 64
    assert rows[1]["verdict"] == "NO_CREDENTIALS"
    assert rows[1]["issuer"] == ""


def test_detached_manifest(runner: CliRunner, signed: Any) -> None:
    anchors = ("--trust-anchors", signed.root)
    alone = _check(runner, *anchors, signed.detached_asset)
    assert _records(alone.stdout)[0]["verdict"] == "NO_CREDENTIALS"
    with_store = _check(
        runner, *anchors, "--manifest", signed.detached_manifest, signed.detached_asset
    )
    assert with_store.exit_code == 0, with_store.output
    assert _records(with_store.stdout)[0]["verdict"] == "TRUSTED"


def test_unusable_trust_anchors_is_usage_error(
    runner: CliRunner, signed: Any, tmp_path: Path
) -> None:
    bogus = tmp_path / "anchors.pem"
    bogus.write_text("not a certificate\n", encoding="ascii")
    for fmt in ("jsonl", "json", "csv", "text"):
        result = _check(runner, "--format", fmt, "--trust-anchors", bogus, signed.jpeg_es256)
        assert result.exit_code == ExitCode.USAGE
        assert result.stdout == ""  # nothing half-written
        assert result.stderr == f"verify: {bogus} contains no PEM certificate\n"


# ----------------------------------------------------------------------------- bad input


def _png_with_size(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def _make_bad(kind: str, tmp_path: Path, signed: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    match kind:
        case "missing":
            return tmp_path / "nowhere.jpg"
        case "directory":
            (tmp_path / "folder").mkdir()
            return tmp_path / "folder"
        case "empty":
            path = tmp_path / "empty.jpg"
            path.write_bytes(b"")
            return path
        case "truncated":
            data = signed.unsigned_jpeg.read_bytes()
            path = tmp_path / "truncated.jpg"
            path.write_bytes(data[: len(data) // 2])
            return path
        case "wrong_extension":
            path = tmp_path / "letter.jpg"
            path.write_text("Dear editor, this is not a picture.\n", encoding="utf-8")
            return path
        case "text":
            path = tmp_path / "notes.txt"
            path.write_text("just some notes\n", encoding="utf-8")
            return path
        case "unreadable":
            path = tmp_path / "secret.jpg"
            shutil.copy(signed.unsigned_jpeg, path)
            path.chmod(0)
            if os.geteuid() == 0:  # root reads anything: make the open fail as for a user
                real_open = Path.open

                def deny(self: Path, *args: Any, **kwargs: Any) -> Any:
                    if self.name == "secret.jpg":
                        raise PermissionError(13, "Permission denied", str(self))
                    return real_open(self, *args, **kwargs)

                monkeypatch.setattr(Path, "open", deny)
            return path
        case "absurd_dimensions":
            path = tmp_path / "bomb.png"
            path.write_bytes(_png_with_size(0x7FFFFFFF, 0x7FFFFFFF))
            return path
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("missing", "not_found"),
        ("directory", "is_directory"),
        ("empty", "empty_file"),
        ("truncated", "corrupt"),
        ("wrong_extension", "unsupported_format"),
        ("text", "unsupported_format"),
        ("unreadable", "permission_denied"),
        ("absurd_dimensions", "too_large"),
    ],
)
def test_bad_input_gives_one_line_and_an_error_record(
    runner: CliRunner,
    signed: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    code: str,
) -> None:
    bad = _make_bad(kind, tmp_path, signed, monkeypatch)
    result = _check(runner, signed.unsigned_jpeg, bad, signed.jpeg_es256)
    assert result.exit_code == ExitCode.INPUT_ERROR, result.output
    records = _records(result.stdout)
    assert [r["verdict"] for r in records] == ["NO_CREDENTIALS", "ERROR", "VALID_UNTRUSTED"]
    assert records[1]["error"]["code"] == code
    assert records[1]["subject"]["path"] == str(bad)
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"verify: {bad}: ")
    assert "Traceback" not in result.output


def test_directory_hint_names_the_option(runner: CliRunner, tmp_path: Path) -> None:
    result = _check(runner, tmp_path)
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert (
        result.stderr
        == f"verify: {tmp_path}: is a directory (use -r/--recursive to check the files inside it)\n"
    )


def test_picture_with_misleading_extension_is_read_by_content(
    runner: CliRunner, signed: Any, tmp_path: Path
) -> None:
    renamed = tmp_path / "photo.png"
    shutil.copy(signed.jpeg_es256, renamed)
    result = _check(runner, "--trust-anchors", signed.root, renamed)
    assert result.exit_code == ExitCode.OK
    record = _records(result.stdout)[0]
    assert record["verdict"] == "TRUSTED"
    assert record["subject"]["media_type"] == "image/jpeg"


# ----------------------------------------------------------------------- -r and output


def test_recursive_walk_is_sorted_and_skips_hidden_and_non_media(
    runner: CliRunner, signed: Any, tmp_path: Path
) -> None:
    root = tmp_path / "case"
    (root / "b-dir").mkdir(parents=True)
    (root / "a-dir" / ".hidden-dir").mkdir(parents=True)
    shutil.copy(signed.jpeg_es256, root / "b-dir" / "z.jpg")
    shutil.copy(signed.unsigned_jpeg, root / "a-dir" / "y.JPG")
    shutil.copy(signed.unsigned_jpeg, root / "a-dir" / ".hidden.jpg")
    shutil.copy(signed.unsigned_jpeg, root / "a-dir" / ".hidden-dir" / "x.jpg")
    shutil.copy(signed.png, root / "c.png")
    (root / "notes.txt").write_text("case notes\n", encoding="utf-8")
    (root / "a-dir" / "loop").symlink_to(root, target_is_directory=True)
    result = _check(runner, "-r", "--trust-anchors", signed.root, root)
    assert result.exit_code == ExitCode.OK, result.output
    paths = [r["subject"]["path"] for r in _records(result.stdout)]
    assert paths == [
        str(root / "a-dir" / "y.JPG"),
        str(root / "b-dir" / "z.jpg"),
        str(root / "c.png"),
    ]
    # Without -r the directory is an error, but named files are still checked.
    result = _check(runner, root, root / "c.png")
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert [r["verdict"] for r in _records(result.stdout)] == ["ERROR", "VALID_UNTRUSTED"]


def test_recursive_on_empty_directory(runner: CliRunner, tmp_path: Path) -> None:
    result = _check(runner, "-r", "--format", "json", tmp_path)
    assert result.exit_code == ExitCode.OK
    assert json.loads(result.stdout) == []
    assert "no media files found" in result.stderr


def test_output_file(runner: CliRunner, signed: Any, tmp_path: Path) -> None:
    out = tmp_path / "reports.jsonl"
    result = _check(runner, "--output", out, signed.jpeg_es256, signed.unsigned_jpeg)
    assert result.exit_code == 0
    assert result.stdout == ""
    records = _records(out.read_text(encoding="utf-8"))
    assert [r["verdict"] for r in records] == ["VALID_UNTRUSTED", "NO_CREDENTIALS"]


def test_fixed_time_makes_output_byte_reproducible(runner: CliRunner, signed: Any) -> None:
    args = ("--format", "json", "--fixed-time", FIXED, "--trust-anchors", signed.root)
    files = (signed.publish, signed.tampered_manifest, signed.unsigned_jpeg)
    first = _check(runner, *args, *files)
    second = _check(runner, *args, *files)
    assert first.exit_code == 0
    assert first.stdout == second.stdout
    records = json.loads(first.stdout)
    assert {r["tool"]["analyzed_at"] for r in records} == {FIXED}
    # sorted keys all the way down
    assert first.stdout == json.dumps(records, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------- real-file corpus


@pytest.mark.shared
def test_shared_public_fixtures(runner: CliRunner, shared_dir: Path) -> None:
    fixtures = shared_dir / "c2pa" / "fixtures"
    test_roots = shared_dir / "c2pa" / "trust" / "c2pa-rs-test" / "test_cert_root_bundle.pem"
    files = [
        fixtures / "c2pa-rs" / "CA.jpg",
        fixtures / "public-testfiles" / "adobe-20220124-E-sig-CA.jpg",
        fixtures / "public-testfiles" / "adobe-20220124-XCA.jpg",
        fixtures / "public-testfiles" / "adobe-20220124-A.jpg",
    ]
    result = _check(runner, "--trust-anchors", test_roots, "--fail-on", "invalid", *files)
    assert result.exit_code == ExitCode.CONDITION_MET, result.output
    verdicts = [r["verdict"] for r in _records(result.stdout)]
    assert verdicts == ["TRUSTED", "INVALID", "INCOMPLETE", "NO_CREDENTIALS"]


@pytest.mark.shared
@pytest.mark.video
def test_shared_fragmented_mp4(runner: CliRunner, shared_dir: Path) -> None:
    folder = shared_dir / "c2pa" / "fixtures" / "c2pa-rs"
    glob = str(folder / "dash*.m4s")
    result = _check(runner, "--fragments", glob, folder / "dashinit.mp4")
    assert result.exit_code == ExitCode.OK, result.output
    record = _records(result.stdout)[0]
    assert record["verdict"] == "VALID_UNTRUSTED"
    assert any("fragment" in sentence for sentence in record["summary"])
    two = _check(runner, "--fragments", glob, folder / "dashinit.mp4", folder / "dashinit.mp4")
    assert two.exit_code == ExitCode.USAGE
