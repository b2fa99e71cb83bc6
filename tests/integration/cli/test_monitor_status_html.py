"""``verify monitor status DB --format html``: the case page, from a database the test fills."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from testkit import encode, picture
from typer.testing import CliRunner

from provenance.monitor import Evidence, MonitorStore, Status, Visit
from provenance.render import MESSAGES, Lang
from verify_cli.app import app
from verify_cli.exit_codes import ExitCode

URL = "https://host.example/post/1"
SHA = "c3" * 32


def _db(tmp_path: Path) -> Path:
    db = tmp_path / "cases.db"
    shot = tmp_path / "visit1.png"
    shot.write_bytes(encode(picture(400, 300), "PNG"))
    wacz = tmp_path / "visit1.wacz"
    wacz.write_bytes(b"PK\x03\x04 evidence")
    with MonitorStore.open(db, create=True) as store:
        store.add("kim", [URL, "https://other.example/x"], [])
        target = next(t for t in store.targets("kim") if t.url == URL)
        first = Visit(
            "kim",
            URL,
            URL,
            Status.MATCH,
            200,
            "2026-11-01T09:00:00Z",
            None,
            evidence=Evidence(
                str(wacz), SHA, "2026-11-01T09:00:02Z", None, "Example TSA", str(shot)
            ),
        )
        gone = Visit("kim", URL, URL, Status.GONE, 404, "2026-11-03T09:00:00Z", Status.MATCH)
        store.record(target, first)
        store.record(target, gone)
    return db


def test_case_page_without_pictures_by_default(tmp_path: Path) -> None:
    db = _db(tmp_path)
    out = tmp_path / "case.html"
    result = CliRunner().invoke(
        app,
        ["monitor", "status", str(db), "--format", "html", "--output", str(out), "--lang", "en"],
    )
    assert result.exit_code == ExitCode.OK, result.output
    page = out.read_text(encoding="utf-8")
    assert "<img" not in page and "<script" not in page
    assert MESSAGES[Lang.EN]["case.pictures_off"] in page
    for text in (SHA, "2026-11-01T09:00:02Z", "Example TSA", "MATCH", "GONE", "404", "kim"):
        assert text in page
    timeline = page[page.index('<table class="timeline">') :]
    assert timeline.index(">MATCH<") < timeline.index(">GONE<")
    assert len(re.findall(r'<section class="case" id="url-\d+">', page)) == 2


@pytest.mark.parametrize("mode", ["blur", "full"])
def test_case_page_pictures_when_asked(tmp_path: Path, mode: str) -> None:
    db = _db(tmp_path)
    result = CliRunner().invoke(
        app, ["monitor", "status", str(db), "--format", "html", "--thumbnails", mode]
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert result.stdout.count('<img class="evidence" src="data:image/jpeg;base64,') == 1


def test_case_page_in_korean(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["monitor", "status", str(_db(tmp_path)), "--format", "html", "--lang", "ko"]
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert MESSAGES[Lang.KO]["title.case"] in result.stdout
    assert MESSAGES[Lang.KO]["status.GONE"] in result.stdout


def test_other_formats_unchanged(tmp_path: Path) -> None:
    db = _db(tmp_path)
    result = CliRunner().invoke(app, ["monitor", "status", str(db), "--format", "jsonl"])
    assert result.exit_code == ExitCode.OK and '"timeline"' in result.stdout
    bad = CliRunner().invoke(app, ["monitor", "status", str(db), "--format", "pdf"])
    assert bad.exit_code == ExitCode.USAGE
