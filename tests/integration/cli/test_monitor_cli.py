"""``verify monitor``: a case from ``add`` to ``notice`` against a loopback site."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monitorsite import Route, Site, edited_copy, jpeg, picture, refused_url, serve_site
from typer.testing import CliRunner

from verify_cli.app import app

pytestmark = pytest.mark.network
EXAMPLE = Path(__file__).parents[3] / "provenance" / "monitor" / "data" / "platforms.example.toml"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    original = picture(1)
    (tmp_path / "original.jpg").write_bytes(jpeg(original))
    with serve_site() as s:
        s.file("/orig.jpg", jpeg(original, 80))
        s.file("/copy.jpg", edited_copy(original))
        s.file("/other.jpg", jpeg(picture(2)))
        s.page("/post1", "/orig.jpg")
        s.page("/post2", "/other.jpg", "/copy.jpg")
        s.page("/post3", "/other.jpg")
        yield s


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _by_url(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"].rsplit("/", 1)[-1]: r for r in records}


def _add(runner: CliRunner, db: Path, site: Site, tmp_path: Path) -> None:
    urls = [site.url(p) for p in ("/post1", "/post2", "/post3")]
    result = runner.invoke(
        app,
        [
            "monitor",
            "add",
            str(db),
            *urls,
            "--case",
            "kim",
            "--ref",
            str(tmp_path / "original.jpg"),
            "--note",
            "reported 2026-12-01",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "3 URL(s) and 1 reference(s) added" in result.stdout


def test_from_add_to_notice(runner: CliRunner, site: Site, tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _add(runner, db, site, tmp_path)
    again = runner.invoke(app, ["monitor", "add", str(db), site.url("/post1"), "--case", "kim"])
    assert again.exit_code == 0 and "already in case" in again.stderr

    run = [
        "monitor",
        "run",
        str(db),
        "--evidence",
        str(tmp_path / "ev"),
        "--delay",
        "0",
        "--format",
        "jsonl",
    ]
    first = runner.invoke(app, run)
    assert first.exit_code == 0, first.output
    records = _by_url(_lines(first.stdout))
    assert {k: r["status"] for k, r in records.items()} == {
        "post1": "MATCH",
        "post2": "MATCH",
        "post3": "NO_MATCH",
    }
    for r in records.values():
        assert set(r) >= {
            "case",
            "url",
            "final_url",
            "status",
            "http_status",
            "checked_at",
            "previous_status",
            "changed",
            "matches",
            "evidence",
            "error",
        }
    assert records["post2"]["matches"][0]["media_url"] == site.url("/copy.jpg")
    assert Path(records["post1"]["evidence"]["path"]).is_file()

    del site.routes["/post1"]
    second = _by_url(_lines(runner.invoke(app, run).stdout))
    assert second["post1"]["status"] == "GONE" and second["post1"]["changed"] is True
    assert second["post1"]["previous_status"] == "MATCH" and second["post1"]["evidence"]

    assert (
        runner.invoke(
            app,
            [
                "monitor",
                "respond",
                str(db),
                site.url("/post2"),
                "--state",
                "removed",
                "--note",
                "ticket 7",
            ],
        ).exit_code
        == 0
    )
    status = runner.invoke(app, ["monitor", "status", str(db), "--format", "jsonl"])
    assert status.exit_code == 0
    rows = _by_url(_lines(status.stdout))
    assert rows["post1"]["gone_since"] == second["post1"]["checked_at"]
    assert rows["post2"]["request_state"] == "removed_but_present"
    assert len(rows["post1"]["timeline"]) == 2 and rows["post1"]["checks"] == 2
    table = runner.invoke(app, ["monitor", "status", str(db), "--format", "csv"])
    parsed = list(csv.DictReader(io.StringIO(table.stdout)))
    assert parsed[0]["last_status"] == "GONE" and "request_state" in parsed[0]
    pretty = runner.invoke(app, ["monitor", "status", str(db), "--format", "table"])
    assert pretty.exit_code == 0 and "removed_but_present" in pretty.stdout

    out = tmp_path / "notices"
    notice = runner.invoke(
        app, ["monitor", "notice", str(db), "--case", "kim", "--lang", "en", "--output", str(out)]
    )
    assert notice.exit_code == 0, notice.output
    [written] = list(out.glob("*.en.txt"))
    text = written.read_text()
    assert site.url("/post2") in text and site.url("/post1") not in text
    assert second["post2"]["evidence"]["sha256"] in text


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller

    got: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            got.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, got
    finally:
        controller.stop()


def test_notice_send(
    runner: CliRunner, site: Site, tmp_path: Path, smtp: tuple[int, list[Any]]
) -> None:
    db = tmp_path / "cases.db"
    _add(runner, db, site, tmp_path)
    runner.invoke(app, ["monitor", "run", str(db), "--delay", "0"])
    profiles = tmp_path / "p.toml"
    profiles.write_text(
        'format = 1\n[[platform]]\nname = "Loopback"\nhosts = ["127.0.0.1"]\n'
        'channel = "email"\nemail = "abuse@loopback.example"\n'
    )
    port, got = smtp
    args = [
        "monitor",
        "notice",
        str(db),
        "--case",
        "kim",
        "--output",
        str(tmp_path / "n"),
        "--profiles",
        str(profiles),
        "--send",
        "--smtp",
        f"smtp://127.0.0.1:{port}",
        "--from",
        "desk@support.example",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.stdout.splitlines() if x.startswith("sent")]
    message_id = line.split("\t")[3]
    assert got[0].rcpt_tos == ["abuse@loopback.example"] and message_id.encode() in got[0].content
    rows = _by_url(
        _lines(runner.invoke(app, ["monitor", "status", str(db), "--format", "jsonl"]).stdout)
    )
    assert rows["post1"]["request_state"] == "sent" and rows["post3"]["request_state"] is None
    missing = runner.invoke(
        app,
        ["monitor", "notice", str(db), "--case", "kim", "--output", str(tmp_path / "n2"), "--send"],
    )
    assert missing.exit_code == 2 and "--smtp" in missing.stderr


def test_exit_codes(runner: CliRunner, site: Site, tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    ref = str(tmp_path / "original.jpg")
    bad = runner.invoke(
        app, ["monitor", "add", str(db), "ftp://example.org/x", "--case", "c", "--ref", ref]
    )
    assert bad.exit_code == 2
    assert bad.stderr.startswith("verify: ftp://example.org/x: only http and https")
    creds = runner.invoke(
        app, ["monitor", "add", str(db), "http://u:pw@127.0.0.1:9/a", "--case", "c", "--ref", ref]
    )
    assert (
        creds.exit_code == 0 and "pw" not in creds.output and "credentials removed" in creds.stderr
    )
    assert "pw@" not in (db.read_bytes()).decode("latin-1")
    no_ref = runner.invoke(
        app,
        [
            "monitor",
            "add",
            str(db),
            site.url("/post1"),
            "--case",
            "c",
            "--ref",
            str(tmp_path / "missing.jpg"),
        ],
    )
    assert no_ref.exit_code == 2 and "missing.jpg" in no_ref.stderr
    _add(runner, db, site, tmp_path)
    add_down = ["monitor", "add", str(db), refused_url(), site.url("/err"), "--case", "kim"]
    assert runner.invoke(app, add_down).exit_code == 0
    site.routes["/err"] = Route(503, b"busy")
    run = ["monitor", "run", str(db), "--case", "kim", "--delay", "0", "--timeout", "20"]
    result = runner.invoke(app, run)
    assert result.exit_code == 3, result.output
    statuses = [r["status"] for r in _lines(result.stdout)]
    assert statuses.count("UNREACHABLE") == 2 and len(statuses) == 5
    table = runner.invoke(app, [*run, "--format", "table"])
    assert table.exit_code == 3
    assert sorted(line.split()[0] for line in table.stdout.splitlines()) == [
        "MATCH", "MATCH", "NO_MATCH", "UNREACHABLE", "UNREACHABLE",
    ]  # fmt: skip
    assert runner.invoke(app, ["monitor", "run", str(db), "--case", "nope"]).exit_code == 2
    assert runner.invoke(app, ["monitor", "run", str(db), "--every", "6x"]).exit_code == 2
    assert runner.invoke(app, ["monitor", "run", str(tmp_path / "none.db")]).exit_code == 2
    assert runner.invoke(app, ["monitor", "status", str(tmp_path / "none.db")]).exit_code == 2
    unknown = runner.invoke(
        app, ["monitor", "respond", str(db), "https://x.example/", "--state", "sent"]
    )
    assert unknown.exit_code == 2 and "not monitored" in unknown.stderr
    assert (
        runner.invoke(
            app, ["monitor", "respond", str(db), site.url("/post1"), "--state", "maybe"]
        ).exit_code
        == 2
    )


def test_every_stops_cleanly_on_ctrl_c(
    runner: CliRunner, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cases.db"
    _add(runner, db, site, tmp_path)
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("time.sleep", nap)
    out = tmp_path / "visits.jsonl"
    result = runner.invoke(
        app, ["monitor", "run", str(db), "--every", "6h", "--delay", "0", "--output", str(out)]
    )
    assert result.exit_code == 130
    assert "stopped" in result.stderr
    assert len(_lines(out.read_text())) == 6  # two whole passes of 3 URLs
    assert 21000 < naps[0] <= 21600


def test_sigterm_stops_a_watch_between_visits(site: Site, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    runner = CliRunner()
    db = tmp_path / "cases.db"
    _add(runner, db, site, tmp_path)
    out = tmp_path / "visits.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    cmd = [sys.executable, "-m", "verify_cli", "monitor", "run", str(db), "--every", "1h",
           "--delay", "0", "--output", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # the first pass is written within a minute even on a busy machine
            if out.exists() and len(_lines(out.read_text())) == 3:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "stopped" in err and "Traceback" not in err
    assert len(_lines(out.read_text())) == 3


def test_every_format(runner: CliRunner, site: Site, tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _add(runner, db, site, tmp_path)
    run = ["monitor", "run", str(db), "--delay", "0", "--format"]
    as_json = json.loads(runner.invoke(app, [*run, "json"]).stdout)
    assert sorted(r["status"] for r in as_json) == ["MATCH", "MATCH", "NO_MATCH"]
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, [*run, "csv"]).stdout)))
    assert sorted(r["status"] for r in rows) == ["MATCH", "MATCH", "NO_MATCH"]
    assert {r["previous_status"] for r in rows} == {"MATCH", "NO_MATCH"}
    matched = next(r for r in rows if r["url"].endswith("/post2"))
    assert json.loads(matched["matches"])[0]["method"] == "pdq"
    status = ["monitor", "status", str(db), "--format"]
    full = json.loads(runner.invoke(app, [*status, "json"]).stdout)
    assert [len(r["timeline"]) for r in full] == [2, 2, 2]
    default = _lines(runner.invoke(app, ["monitor", "status", str(db)]).stdout)
    assert default == [json.loads(json.dumps(r)) for r in full]  # jsonl when not a terminal
    text = runner.invoke(app, [*status, "text"])  # the old spelling of table
    assert text.exit_code == 0 and "post1" in text.stdout


def test_watermark_key_from_the_environment(runner: CliRunner, site: Site, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    import watermark

    base = np.asarray(Image.fromarray(picture(5, 64)).resize((512, 512)))
    marked = tmp_path / "marked.jpg"
    marked.write_bytes(jpeg(watermark.embed(base, b"CASE0042", "desk key"), 95))
    db = tmp_path / "cases.db"
    args = ["monitor", "add", str(db), site.url("/post1"), "--case", "w", "--ref", str(marked)]
    assert runner.invoke(app, args, env={"JINJJA_WM_KEY": "desk key"}).exit_code == 0
    from provenance.monitor import MonitorStore

    with MonitorStore.open(db) as store:
        assert store.references("w")[0].watermark == b"CASE0042".hex()
