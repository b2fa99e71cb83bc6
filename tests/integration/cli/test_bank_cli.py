"""``verify bank``: add, import, export, match, info, remove; formats and exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from verify_cli.app import app


def _save(array: np.ndarray, path: Path, **options) -> Path:
    Image.fromarray(np.ascontiguousarray(array)).save(path, **options)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    astronaut, chelsea = data.astronaut(), data.chelsea()
    half = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    return {
        "astronaut": _save(astronaut, tmp_path / "astronaut.png"),
        "chelsea": _save(chelsea, tmp_path / "chelsea.png"),
        "copy": _save(half[:, ::-1], tmp_path / "copy.jpg", quality=50),
        "other": _save(data.coffee(), tmp_path / "other.png"),
        "flat": _save(np.full((100, 100, 3), 7, np.uint8), tmp_path / "flat.png"),
        "text": tmp_path / "notes.txt",
    }


@pytest.fixture
def bank(runner: CliRunner, files: dict[str, Path], tmp_path: Path) -> Path:
    path = tmp_path / "known.db"
    result = runner.invoke(
        app,
        [
            "bank",
            "add",
            str(path),
            str(files["astronaut"]),
            str(files["chelsea"]),
            "--label",
            "known",
            "--case",
            "K-7",
        ],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in records] == ["ADDED", "ADDED"]
    assert all(r["schema"] == "jinjja.bank-add/v1" and len(r["entry_ids"]) == 1 for r in records)
    return path


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_match_finds_an_edited_copy(runner: CliRunner, bank: Path, files: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["bank", "match", str(bank), str(files["copy"]), str(files["other"])]
    )
    assert result.exit_code == 0, result.output
    copy, other = _jsonl(result.stdout)
    assert copy["schema"] == "jinjja.bank-match/v1" and copy["status"] == "MATCH"
    assert copy["input"] == str(files["copy"].absolute()) and copy["kind"] == "file"
    (m,) = copy["matches"]
    assert isinstance(m["distance"], int) and m["distance"] <= 31
    assert m["band"] == "MATCH" and m["variant"] == "flip_h"
    assert m["bank"] == "known" and m["label"] == "known" and m["case"] == "K-7"
    assert other["status"] == "NO_MATCH" and other["matches"] == []
    assert len(copy["pdq"]) == 64 and copy["quality"] == 100
    assert result.stderr == ""


def test_fail_on_match_and_input_errors(
    runner: CliRunner, bank: Path, files: dict[str, Path]
) -> None:
    args = ["bank", "match", str(bank), "--fail-on-match"]
    assert runner.invoke(app, [*args, str(files["copy"])]).exit_code == 1
    assert runner.invoke(app, [*args, str(files["other"])]).exit_code == 0
    files["text"].write_text("hello")
    mixed = runner.invoke(app, [*args, str(files["copy"]), str(files["text"]), str(files["flat"])])
    assert mixed.exit_code == 3  # an unprocessed input outranks a match
    records = _jsonl(mixed.stdout)
    assert [r["status"] for r in records] == ["MATCH", "ERROR", "NOT_HASHABLE"]
    assert records[1]["error"]["code"] == "unsupported_format"
    assert "not hashable" in records[2]["error"]["message"]
    assert "notes.txt" in mixed.stderr and "flat.png" in mixed.stderr
    assert "Traceback" not in mixed.output


def test_match_hash_list(runner: CliRunner, bank: Path, tmp_path: Path) -> None:
    exported = runner.invoke(app, ["bank", "export", str(bank), "--format", "jsonl"])
    first = _jsonl(exported.stdout)[0]["pdq"]
    near = f"{int(first, 16) ^ 0b1011:064x}"
    hashes = tmp_path / "hashes.txt"
    hashes.write_text(f"# from a partner\n{near},90\n\n{'0' * 64}\nnot-a-hash\n")
    result = runner.invoke(app, ["bank", "match", str(bank), "--hashes", str(hashes)])
    assert result.exit_code == 3
    found, none, bad = _jsonl(result.stdout)
    assert found["kind"] == "hash" and found["input"].endswith("hashes.txt:2")
    assert found["matches"][0]["distance"] == 3 and found["matches"][0]["variant"] == "identity"
    assert none["status"] == "NO_MATCH" and none["input"].endswith(":4")
    assert bad["status"] == "ERROR" and bad["input"].endswith(":5")
    assert "hashes.txt:5" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "csv", "text"])
def test_match_formats(runner: CliRunner, bank: Path, files: dict[str, Path], fmt: str) -> None:
    result = runner.invoke(
        app, ["bank", "match", str(bank), "--format", fmt, str(files["copy"]), str(files["other"])]
    )
    assert result.exit_code == 0, result.output
    if fmt == "json":
        records = json.loads(result.stdout)
        assert [r["status"] for r in records] == ["MATCH", "NO_MATCH"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert [r["status"] for r in rows] == ["MATCH", "NO_MATCH"]
        assert int(rows[0]["distance"]) <= 31 and rows[1]["distance"] == ""
    else:
        assert "copy.jpg: MATCH" in result.stdout and "flip_h" in result.stdout
        assert "other.png: NO_MATCH" in result.stdout


def test_output_file(runner: CliRunner, bank: Path, files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["bank", "match", str(bank), "-o", str(out), str(files["copy"])])
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())[0]["status"] == "MATCH"


def test_usage_errors(
    runner: CliRunner, bank: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    assert runner.invoke(app, ["bank", "match", str(bank)]).exit_code == 2
    missing = runner.invoke(app, ["bank", "match", str(tmp_path / "none.db"), str(files["copy"])])
    assert missing.exit_code == 2 and "no such bank" in missing.stderr
    not_bank = runner.invoke(app, ["bank", "match", str(files["astronaut"]), str(files["copy"])])
    assert not_bank.exit_code == 2 and "not a bank" in not_bank.stderr
    too_far = runner.invoke(
        app, ["bank", "match", str(bank), "--max-distance", "60", str(files["copy"])]
    )
    assert too_far.exit_code == 2
    two_ids = runner.invoke(
        app, ["bank", "add", str(bank), "--id", "x", str(files["copy"]), str(files["other"])]
    )
    assert two_ids.exit_code == 2
    for result in (missing, not_bank, too_far, two_ids):
        assert "Traceback" not in result.output


def test_add_reports_problems(
    runner: CliRunner, bank: Path, files: dict[str, Path], tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "bank",
            "add",
            str(bank),
            str(files["astronaut"]),
            str(files["flat"]),
            str(tmp_path / "gone.jpg"),
        ],
    )
    assert result.exit_code == 3
    again, flat, gone = _jsonl(result.stdout)
    assert again["status"] == "ALREADY_PRESENT" and again["new"] == 0
    assert flat["status"] == "NOT_HASHABLE" and flat["quality"] < 50
    assert gone["status"] == "ERROR" and gone["code"] == "not_found"
    assert "flat.png" in result.stderr and "gone.jpg" in result.stderr


def test_import_with_invalid_rows(runner: CliRunner, bank: Path, tmp_path: Path) -> None:
    rows = ["id,pdq,quality,label", f"p1,{'ab' * 32},90,partner"]
    rows += [f"bad{i},{'zz' * 32},90," for i in range(12)]
    rows.append(f"p2,{'cd' * 32},30,")
    listing = tmp_path / "list.csv"
    listing.write_text("\n".join(rows) + "\n")
    errors = tmp_path / "errors.csv"
    result = runner.invoke(
        app, ["bank", "import", str(bank), str(listing), "--errors", str(errors), "--json"]
    )
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert summary["imported"] == 1 and summary["rows"] == 14 and len(summary["invalid"]) == 13
    assert "13 invalid rows" in result.stderr and "list.csv:3:" in result.stderr
    assert "3 more" in result.stderr
    written = list(csv.DictReader(io.StringIO(errors.read_text())))
    assert [int(r["line"]) for r in written] == list(range(3, 16))
    assert "below 50" in written[-1]["reason"]
    clean = tmp_path / "clean.csv"
    clean.write_text(f"pdq\n{'ef' * 32}\n")
    ok = runner.invoke(app, ["bank", "import", str(bank), str(clean)])
    assert ok.exit_code == 0 and "imported 1 of 1" in ok.stdout
    unusable = tmp_path / "unusable.csv"
    unusable.write_text("name,value\na,b\n")
    bad = runner.invoke(app, ["bank", "import", str(bank), str(unusable)])
    assert bad.exit_code == 3 and "no hash column" in bad.stderr


def test_export_info_remove(runner: CliRunner, bank: Path, tmp_path: Path) -> None:
    exported = runner.invoke(app, ["bank", "export", str(bank)])
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["label"] for r in rows] == ["known", "known"] and rows[0]["case"] == "K-7"
    target = tmp_path / "copy.db"
    listing = tmp_path / "export.csv"
    listing.write_text(exported.stdout)
    assert runner.invoke(app, ["bank", "import", str(target), str(listing)]).exit_code == 0
    again = runner.invoke(app, ["bank", "export", str(target)])
    strip = [{k: v for k, v in r.items() if k not in ("source", "added_at")} for r in rows]
    assert [
        {k: v for k, v in r.items() if k not in ("source", "added_at")}
        for r in csv.DictReader(io.StringIO(again.stdout))
    ] == strip
    info = runner.invoke(app, ["bank", "info", str(bank), "--json"])
    assert (
        json.loads(info.stdout)["entries"] == 2 and json.loads(info.stdout)["journal_mode"] == "wal"
    )
    removed = runner.invoke(app, ["bank", "remove", str(bank), rows[0]["id"]])
    assert removed.exit_code == 0 and "removed 1" in removed.stdout
    assert (
        json.loads(runner.invoke(app, ["bank", "info", str(bank), "--json"]).stdout)["entries"] == 1
    )


def test_unreadable_hash_list(runner: CliRunner, bank: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["bank", "match", str(bank), "--hashes", str(tmp_path / "none.txt")]
    )
    assert result.exit_code == 3 and "cannot read the hash list" in result.stderr
    assert "Traceback" not in result.output
