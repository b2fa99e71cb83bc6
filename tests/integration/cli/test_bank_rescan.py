"""``verify bank rescan``: earlier records matched again from their stored hashes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from provenance.matching.bank import Bank
from provenance.matching.rescan import Rescanned, Unusable, rescan
from provenance.matching.vpdq import VpdqFeature, VpdqHash
from provenance.report import ContentHashes
from verify_cli.app import app


def _save(array: np.ndarray, path: Path, **options: object) -> Path:
    Image.fromarray(np.ascontiguousarray(array)).save(path, **options)
    return path


def test_rescan_finds_new_hits_without_the_files(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "b.db"
    astro = _save(data.astronaut(), tmp_path / "astro.png")
    cat = _save(data.chelsea(), tmp_path / "cat.png")
    assert runner.invoke(app, ["bank", "add", str(db), str(astro)]).exit_code == 0
    copy_astro = _save(data.astronaut()[:, ::-1], tmp_path / "a.jpg", quality=60)
    copy_cat = _save(np.rot90(data.chelsea()), tmp_path / "c.jpg", quality=60)
    records = tmp_path / "checked.jsonl"
    res = runner.invoke(
        app, ["bank", "match", str(db), str(copy_astro), str(copy_cat), "-o", str(records)]
    )
    assert res.exit_code == 0, res.output
    before = [json.loads(line) for line in records.read_text().splitlines()]
    assert [r["status"] for r in before] == ["MATCH", "NO_MATCH"]
    assert len(before[1]["pdq_variants"]) == 8
    # The bank gains the cat; the checked copies are gone (nothing is decoded again).
    assert runner.invoke(app, ["bank", "add", str(db), str(cat), "--id", "cat"]).exit_code == 0
    copy_astro.unlink()
    copy_cat.unlink()
    res = runner.invoke(app, ["bank", "rescan", str(db), str(records)])
    assert res.exit_code == 0, res.output
    (hit,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert hit["schema"] == "jinjja.bank-rescan/v1" and hit["line"] == 2
    assert hit["input"] == before[1]["input"] and hit["status"] == "MATCH"
    (new,) = hit["new_matches"]
    assert new["entry_id"] == "cat" and new["variant"] != "identity"  # rotated copy
    res = runner.invoke(app, ["bank", "rescan", str(db), str(records), "--all"])
    assert [json.loads(line)["new_matches"] != [] for line in res.stdout.splitlines()] == [
        False,
        True,
    ]
    res = runner.invoke(app, ["bank", "rescan", str(db), str(records), "--fail-on-match"])
    assert res.exit_code == 1


def test_rescan_reports_records_without_hashes(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "b.db"
    Bank.open(db, create=True).close()
    records = tmp_path / "r.jsonl"
    records.write_text('{"input": "x"}\nnot json\n\n{"pdq": "' + "ab" * 32 + '"}\n')
    res = runner.invoke(app, ["bank", "rescan", str(db), str(records)])
    assert res.exit_code == 3
    assert f"{records}:1: no stored hash" in res.stderr
    assert f"{records}:2: not JSON" in res.stderr
    res = runner.invoke(app, ["bank", "rescan", str(db), str(tmp_path / "missing.jsonl")])
    assert res.exit_code in (2, 3)


def test_rescan_of_video_records_uses_vpdq_and_md5(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    feats = tuple(
        VpdqFeature(rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex(), 100, float(t))
        for t in range(10)
    )
    banked = VpdqHash(feats, md5="0" * 32)
    query = VpdqHash(feats[2:7])  # a cut of it
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        bank.add_video("vid", banked, label="video case")
        records = [
            (1, {"input": "cut.mp4", "vpdq": query.to_signal(), "matches": []}),
            (2, {"input": "same.mp4", "md5": "0" * 32, "matches": []}),
            (
                3,
                {
                    "input": "known.mp4",
                    "md5": "0" * 32,
                    "matches": [{"bank": "b", "entry_id": "vid"}],
                },
            ),
            (4, {"input": "bad", "vpdq": "[1]"}),
        ]
        out = list(rescan([bank], records))
    assert isinstance(out[0], Rescanned) and [m.entry_id for m in out[0].new] == ["vid"]
    assert out[0].new[0].detail["signal"] == "vpdq"
    assert out[0].new[0].detail["query_match_percent"] == 100.0
    assert out[0].new[0].detail["compared_match_percent"] == 50.0
    assert isinstance(out[1], Rescanned) and out[1].new[0].detail["signal"] == "video_md5"
    assert isinstance(out[2], Rescanned) and out[2].new == () and len(out[2].matches) == 1
    assert isinstance(out[3], Unusable) and "not valid" in out[3].reason


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any picture or video decoding fail loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("rescan decoded a file")

    for name in ("hash_bytes", "hash_video", "hash_video_vpdq", "_hash_media", "read_input"):
        monkeypatch.setattr(f"provenance.matching.bank.{name}", refuse)
    for name in ("hash_bytes", "hash_array", "hash_video", "read_input"):
        monkeypatch.setattr(f"provenance.matching.pdq.{name}", refuse)


def test_rescan_of_check_records_finds_new_hits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    db = tmp_path / "b.db"
    cat = _save(data.chelsea(), tmp_path / "cat.png")
    assert runner.invoke(app, ["bank", "add", str(db), str(cat), "--id", "cat"]).exit_code == 0
    astro = _save(data.astronaut(), tmp_path / "astro.jpg", quality=80)
    cat_copy = _save(data.chelsea(), tmp_path / "cat.jpg", quality=70)
    records = tmp_path / "checked.jsonl"
    res = runner.invoke(
        app,
        ["check", "--bank", str(db), str(astro), str(cat_copy), "--format", "jsonl"]
        + ["-o", str(records)],
    )
    assert res.exit_code == 0, res.output
    checked = [json.loads(line) for line in records.read_text().splitlines()]
    assert [r["schema"] for r in checked] == ["jinjja.report/v1"] * 2
    astro_hashes = checked[0]["hashes"]
    assert astro_hashes["media"] == "picture" and len(astro_hashes["pdq_variants"]) == 8
    assert astro_hashes["pdq_variants"][0] == astro_hashes["pdq"]
    assert "matches" not in checked[0] and checked[1]["matches"][0]["entry_id"] == "cat"
    # The bank gains the astronaut and a mirrored copy of it; the checked files are gone.
    for array, eid in ((data.astronaut(), "astro"), (data.astronaut()[:, ::-1], "mirrored")):
        path = _save(array, tmp_path / f"{eid}.png")
        assert runner.invoke(app, ["bank", "add", str(db), str(path), "--id", eid]).exit_code == 0
    astro.unlink()
    cat_copy.unlink()
    _no_decoding(monkeypatch)
    res = runner.invoke(app, ["bank", "rescan", str(db), str(records)])
    assert res.exit_code == 0, res.output
    (hit,) = [json.loads(line) for line in res.stdout.splitlines()]  # the cat was known
    assert hit["schema"] == "jinjja.bank-rescan/v1" and hit["line"] == 1
    assert hit["input"] == checked[0]["subject"]["path"] and hit["status"] == "MATCH"
    new = {m["entry_id"]: m for m in hit["new_matches"]}
    assert set(new) == {"astro", "mirrored"}
    assert new["astro"]["variant"] == "identity" and new["astro"]["band"] == "MATCH"
    assert new["mirrored"]["variant"] == "flip_h" and new["mirrored"]["band"] == "MATCH"
    res = runner.invoke(app, ["bank", "rescan", str(db), str(records), "--all"])
    again = [json.loads(line) for line in res.stdout.splitlines()]
    assert [len(r["new_matches"]) for r in again] == [2, 0]
    assert again[1]["matches"][0]["entry_id"] == "cat"


def test_rescan_reports_check_records_without_hashes(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "b.db"
    Bank.open(db, create=True).close()
    astro = _save(data.astronaut(), tmp_path / "astro.png")
    records = tmp_path / "checked.jsonl"
    res = runner.invoke(
        app,
        ["check", str(astro), str(tmp_path / "gone.png"), "--format", "jsonl", "-o", str(records)],
    )
    assert res.exit_code != 0  # the missing file is an ERROR report
    checked = [json.loads(line) for line in records.read_text().splitlines()]
    assert "hashes" not in checked[0] and checked[1]["verdict"] == "ERROR"
    res = runner.invoke(app, ["bank", "rescan", str(db), str(records)])
    assert res.exit_code == 3 and res.stdout == ""
    assert f"{records}:1: check record without stored hashes" in res.stderr
    assert "--bank" in res.stderr
    assert f"{records}:2: check record with verdict ERROR" in res.stderr


def test_rescan_of_video_check_record(tmp_path: Path) -> None:
    """A video's check record keeps its vPDQ signal and MD5; the rescan matches them."""
    rng = np.random.default_rng(7)
    feats = tuple(
        VpdqFeature(rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex(), 100, float(t))
        for t in range(6)
    )
    hashes = ContentHashes(
        "video", 100, vpdq=VpdqHash(feats).to_signal(), md5="1" * 32, frames=6
    ).to_dict()
    record = {
        "schema": "jinjja.report/v1",
        "subject": {"path": "/clips/a.mp4"},
        "verdict": "NO_CREDENTIALS",
        "hashes": hashes,
    }
    md5_only = {**record, "hashes": {"media": "video", "quality": 100, "md5": "1" * 32}}
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        bank.add_video("vid", VpdqHash(feats, md5="2" * 32))
        bank.add_video("same", VpdqHash((), md5="1" * 32))
        out = list(rescan([bank], [(1, record), (2, md5_only)]))
    assert isinstance(out[0], Rescanned) and out[0].input == "/clips/a.mp4"
    assert {m.entry_id for m in out[0].new} == {"vid", "same"}
    assert isinstance(out[1], Rescanned) and [m.entry_id for m in out[1].new] == ["same"]
