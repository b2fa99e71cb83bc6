"""Exchange-faithful lists (HMA CSV, StopNCII records), thresholds, allow-lists, states."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from provenance.matching.bank import Bank, apply_allow_lists, lookup_file
from provenance.matching.exchange import (
    export_hma_csv,
    export_stopncii,
    import_hma_csv,
    import_stopncii,
)
from provenance.matching.pdq import PdqHash, hash_bytes
from provenance.report import BankMatch
from verify_cli.app import app


def _hex(seed: int) -> str:
    return np.random.default_rng(seed).integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def _near(hx: str, bits: int) -> str:
    return format(int(hx, 16) ^ ((1 << bits) - 1), "064x")


def _pdq(hx: str) -> PdqHash:
    return PdqHash(bytes.fromhex(hx), 100)


def _hma_csv() -> str:
    """Written the way python-threatexchange's `dataset --csv` writes it (csv.DictWriter)."""
    out = io.StringIO()
    w = csv.DictWriter(out, ["signal_type", "signal_str", "collab", "category", "tags"])
    w.writeheader()
    w.writerow(
        {
            "signal_type": "pdq",
            "signal_str": _hex(1),
            "collab": "Sample Data",
            "category": "TRUE_POSITIVE",
            "tags": "ncii media_type_photo",
        }
    )
    w.writerow(
        {"signal_type": "pdq", "signal_str": _hex(2), "collab": "", "category": "", "tags": ""}
    )
    w.writerow(
        {
            "signal_type": "video_md5",
            "signal_str": "0" * 31 + "1",
            "collab": "Sample Data",
            "category": "ADVERSARIAL",
            "tags": "",
        }
    )
    return out.getvalue()


def test_hma_csv_round_trips_byte_for_byte(tmp_path: Path) -> None:
    text = _hma_csv()
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        result = import_hma_csv(bank, io.StringIO(text))
        assert (result.rows, result.imported, result.invalid) == (3, 3, ())
        out = io.StringIO()
        assert export_hma_csv(bank, out) == 3
        assert out.getvalue() == text
        # The PDQ rows match; the id names the collaboration.
        found = bank.match_hashes([_pdq(_near(_hex(1), 4))])
        assert [(m.entry_id, m.distance, m.label) for m in found] == [
            (f"Sample Data/{_hex(1)}", 4, "ncii media_type_photo")
        ]


def test_hma_csv_reports_rows_it_cannot_keep(tmp_path: Path) -> None:
    text = (
        "signal_type,signal_str,collab,category,tags\r\n"
        f"pdq,{_hex(3)},c,,\r\n"
        "pdq,xyz,c,,\r\n"
        "tmk,abc,c,,\r\n"
        f"pdq,{_hex(3)},c,,\r\n"
        "pdq,only-two\r\n"
    )
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        result = import_hma_csv(bank, io.StringIO(text))
    assert result.imported == 1
    assert [(r.line, r.reason.split(":")[0]) for r in result.invalid] == [
        (3, "not a PDQ hash"),
        (4, "signal type 'tmk' is not kept in banks (pdq, video_md5, vpdq)"),
        (5, f"duplicate id 'c/{_hex(3)}' (line 2)"),
        (6, "2 columns, the header has 5"),
    ]


def _stopncii_records() -> list[dict]:
    return [
        {
            "lastModtimestamp": 1733400000,
            "signalType": "ImagePDQ",
            "hashValue": _hex(10),
            "hashStatus": "Active",
            "caseNumbers": {"KR-2024-0001": "Active"},
            "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": ["ncii"], "source": "csp-a"}],
            "hashId": "c0ffee-01",
        },
        {
            "lastModtimestamp": 1733400100,
            "signalType": "ImagePDQ",
            "hashValue": _hex(11),
            "hashStatus": "Withdrawn",
            "caseNumbers": {"KR-2024-0002": "Withdrawn"},
            "CSPFeedbacks": [],
            "hashId": "c0ffee-02",
        },
        {
            "lastModtimestamp": 1733400200,
            "signalType": "VideoMD5",
            "hashValue": "ab" * 16,
            "hashStatus": "Received",
            "caseNumbers": {"KR-2024-0003": "Received"},
            "CSPFeedbacks": [],
            "hashId": "c0ffee-03",
        },
    ]


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def test_stopncii_records_round_trip_and_withdrawn_never_match(tmp_path: Path) -> None:
    records = _stopncii_records()
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        result = import_stopncii(bank, io.StringIO(_jsonl(records)))
        assert (result.imported, result.invalid) == (3, ())
        out = io.StringIO()
        assert export_stopncii(bank, out) == 3
        assert out.getvalue() == _jsonl(records)  # every field, the exchange's ids included
        assert [m.case for m in bank.match_hashes([_pdq(_hex(10))])] == ["KR-2024-0001"]
        assert bank.match_hashes([_pdq(_hex(11))]) == ()  # withdrawn: kept, not matched
        assert bank.state_of(_hex(11)) == "disabled"
        assert bank.history(_hex(11))[0]["reason"] == "StopNCII hashStatus Withdrawn"


def test_stopncii_status_changes_are_kept_in_the_history(tmp_path: Path) -> None:
    first = _stopncii_records()[:1]
    later = [dict(first[0], hashStatus="Withdrawn", lastModtimestamp=1733500000)]
    again = [dict(first[0], hashStatus="Active", lastModtimestamp=1733600000)]
    page = json.dumps({"count": 1, "nextPageToken": None, "hashRecords": later})
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        import_stopncii(bank, io.StringIO(_jsonl(first)))
        import_stopncii(bank, io.StringIO(page))  # a saved FetchHashes page
        assert bank.match_hashes([_pdq(_hex(10))]) == ()
        import_stopncii(bank, io.StringIO(_jsonl(again)))
        assert len(bank.match_hashes([_pdq(_hex(10))])) == 1
        assert [h["state"] for h in bank.history(_hex(10))] == ["active", "disabled", "active"]
        # Disabled here (not by the exchange): the export says Withdrawn.
        bank.set_state([_hex(10)], "disabled", reason="reviewed: not NCII")
        out = io.StringIO()
        export_stopncii(bank, out)
        assert json.loads(out.getvalue())["hashStatus"] == "Withdrawn"


def test_stopncii_bad_records_are_reported(tmp_path: Path) -> None:
    text = (
        _jsonl(_stopncii_records()[:1])
        + "not json\n"
        + json.dumps({"signalType": "VideoTMK", "hashValue": "x"})
        + "\n"
        + json.dumps({"signalType": "ImagePDQ", "hashValue": "12"})
        + "\n"
        + "[1]\n"
    )
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        result = import_stopncii(bank, io.StringIO(text))
    assert result.imported == 1
    assert [r.line for r in result.invalid] == [2, 3, 4, 5]
    assert "VideoTMK" in result.invalid[1].reason


def test_per_bank_threshold(tmp_path: Path) -> None:
    hx = _hex(20)
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        bank.add_hash(_pdq(hx), entry_id="e")
        assert bank.match_hashes([_pdq(_near(hx, 12))])[0].band == "MATCH"
        bank.configure(threshold=10)
    with Bank.open(tmp_path / "b.db") as bank:
        assert bank.threshold == 10
        (m,) = bank.match_hashes([_pdq(_near(hx, 12))])
        assert (m.band, m.distance) == ("REVIEW", 12)
        with pytest.raises(Exception, match="threshold"):
            bank.configure(threshold=60)


def _png(array: np.ndarray, path: Path) -> Path:
    Image.fromarray(np.ascontiguousarray(array)).save(path)
    return path


def test_negative_bank_suppresses_and_says_so(tmp_path: Path) -> None:
    photo = _png(data.astronaut(), tmp_path / "astro.png")
    with Bank.open(tmp_path / "cases.db", create=True, name="cases") as cases:
        cases.add_file(photo, entry_id="case-7")
    with Bank.open(tmp_path / "stock.db", create=True, name="stock") as stock:
        stock.add_file(photo, entry_id="stock-1")
        stock.configure(kind="negative")
    with Bank.open(tmp_path / "cases.db") as cases, Bank.open(tmp_path / "stock.db") as stock:
        result = lookup_file(photo, [cases, stock], max_distance=31)
        by_bank = {m.bank: m for m in result.matches}  # type: ignore[union-attr]
        assert by_bank["stock"].band == "ALLOWED"
        assert by_bank["cases"].band == "SUPPRESSED"
        assert by_bank["cases"].detail["suppressed_by"] == "stock/stock-1"
        plain = lookup_file(photo, [cases], max_distance=31)
        assert [m.band for m in plain.matches] == ["MATCH"]  # type: ignore[union-attr]
    runner = CliRunner()
    cmd = ["bank", "match", str(tmp_path / "cases.db"), str(photo), "--format", "json"]
    out = runner.invoke(app, [*cmd, "--allow-list", str(tmp_path / "stock.db")])
    assert out.exit_code == 0, out.output
    (record,) = json.loads(out.stdout)
    assert record["status"] == "SUPPRESSED"


def test_allow_list_review_matches_do_not_suppress() -> None:
    m = [
        BankMatch("cases", "a", 5, "MATCH", "identity"),
        BankMatch("stock", "s", 40, "REVIEW", "identity"),
    ]
    assert apply_allow_lists(m, {"stock"}) == tuple(m)


def test_cli_disable_enable_history_and_formats(tmp_path: Path) -> None:
    runner = CliRunner()
    src = tmp_path / "in.jsonl"
    src.write_text(_jsonl(_stopncii_records()))
    db = str(tmp_path / "b.db")
    res = runner.invoke(app, ["bank", "import", db, str(src), "--format", "stopncii"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["bank", "disable", db, _hex(10), "--reason", "appeal granted"])
    assert res.exit_code == 0 and "disabled 1" in res.stdout
    res = runner.invoke(app, ["bank", "history", db, _hex(10)])
    states = [json.loads(line)["state"] for line in res.stdout.splitlines()]
    assert states == ["active", "disabled"]
    res = runner.invoke(app, ["bank", "enable", db, _hex(10)])
    assert res.exit_code == 0
    res = runner.invoke(app, ["bank", "export", db, "--format", "stopncii"])
    assert res.stdout == _jsonl(_stopncii_records())
    res = runner.invoke(app, ["bank", "disable", db, "nope"])
    assert res.exit_code == 3
    res = runner.invoke(app, ["bank", "config", db, "--threshold", "20", "--negative"])
    assert json.loads(res.stdout) == {"name": "b", "threshold": 20, "kind": "negative"}
    hma = tmp_path / "hma.csv"
    hma.write_text(_hma_csv(), newline="")
    db2 = str(tmp_path / "c.db")
    assert runner.invoke(app, ["bank", "import", db2, str(hma), "--format", "hma"]).exit_code == 0
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["bank", "export", db2, "--format", "hma", "-o", str(out)])
    assert res.exit_code == 0 and out.read_bytes() == hma.read_bytes()


def test_format_1_bank_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL);
        CREATE TABLE bank_info (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            entry_id TEXT NOT NULL UNIQUE CHECK (length(entry_id) BETWEEN 1 AND 512),
            signal_type TEXT NOT NULL DEFAULT 'pdq' CHECK (signal_type = 'pdq'),
            hash BLOB NOT NULL CHECK (typeof(hash) = 'blob' AND length(hash) = 32),
            quality INTEGER CHECK (quality IS NULL OR quality BETWEEN 0 AND 100),
            label TEXT, case_id TEXT, source TEXT, added_at TEXT NOT NULL);
        INSERT INTO schema_version VALUES (1, '2026-01-01T00:00:00Z');
        INSERT INTO bank_info VALUES ('name', 'old'), ('created_at', '2026-01-01T00:00:00Z');
        PRAGMA application_id = 1246380619;
        """
    )
    conn.execute(
        "INSERT INTO entries (entry_id, hash, quality, added_at) VALUES ('e', ?, 90, 'x')",
        (bytes.fromhex(_hex(30)),),
    )
    conn.commit()
    conn.close()
    with Bank.open(path) as bank:
        assert [m.entry_id for m in bank.match_hashes([_pdq(_hex(30))])] == ["e"]
        assert bank.state_of("e") == "active"
        bank.set_state(["e"], "disabled", reason="test")
        assert bank.match_hashes([_pdq(_hex(30))]) == ()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 2
    conn.close()


def test_hash_bytes_helper_is_consistent(tmp_path: Path) -> None:
    """The service and the bank hash a picture the same way (one code path)."""
    photo = _png(data.coffee(), tmp_path / "c.png")
    hashed = hash_bytes(photo.read_bytes())
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        bank.add_file(photo, entry_id="c")
        assert bank.match_hashes([hashed.hash])[0].distance == 0  # type: ignore[union-attr]
