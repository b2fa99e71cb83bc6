"""The monitoring case page: timelines, evidence hashes, request states, no pictures by default."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from testkit import encode, picture

from provenance.errors import ProvenanceError
from provenance.render import (
    CSP_CASE,
    MESSAGES,
    CaseUrl,
    Evidence,
    Lang,
    Thumbnails,
    Visit,
    case_url_from_dict,
    render_case_page,
)

SHA_A, SHA_B = "a1" * 32, "b2" * 32


def _record(evidence_path: str = "/evidence/1.png") -> dict[str, Any]:
    return {
        "url": "https://host.example/post/1?<x>",
        "case": "CASE-2026-0042",
        "request_state": "TAKEDOWN_REQUESTED",
        "gone_since": "2026-11-03T09:00:00Z",
        "note": "reported by the victim <b>",
        "timeline": [
            {
                "checked_at": "2026-11-01T09:00:00Z",
                "status": "ONLINE",
                "http_status": 200,
                "evidence": {
                    "path": evidence_path,
                    "sha256": SHA_A,
                    "timestamp": "2026-11-01T09:00:02Z",
                    "tsa": "Example TSA",
                },
            },
            {
                "checked_at": "2026-11-03T09:00:00Z",
                "status": "REMOVED",
                "http_status": 404,
                "final_url": "https://host.example/removed",
                "evidence": None,
            },
        ],
    }


def _page(urls: list[CaseUrl], **kw: Any) -> str:
    out = io.StringIO()
    render_case_page(urls, out, generated_at="2026-11-21T10:00:00Z", **kw)
    return out.getvalue()


def test_reads_the_documented_input() -> None:
    url = case_url_from_dict(_record())
    assert url.url == "https://host.example/post/1?<x>"
    assert url.case == "CASE-2026-0042" and url.request_state == "TAKEDOWN_REQUESTED"
    assert url.timeline[0] == Visit(
        "2026-11-01T09:00:00Z",
        "ONLINE",
        200,
        Evidence("/evidence/1.png", SHA_A, "2026-11-01T09:00:02Z", "Example TSA"),
    )
    assert url.timeline[1].evidence is None and url.timeline[1].http_status == 404
    assert url.gone_since == "2026-11-03T09:00:00Z" and url.timeline[0].evidence is not None
    assert url.timeline[0].evidence.tsa == "Example TSA"
    assert case_url_from_dict({"url": "https://x.example/"}).timeline == ()


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"url": 5},
        {"url": "https://x/", "timeline": {}},
        {"url": "https://x/", "timeline": [{"status": "ONLINE"}]},
        {"url": "https://x/", "timeline": [{"checked_at": "t", "status": "s", "http_status": "2"}]},
        {"url": "https://x/", "timeline": [{"checked_at": "t", "status": "s", "evidence": "x"}]},
        {"url": "https://x/", "timeline": [{"checked_at": "t", "status": "s", "evidence": {}}]},
    ],
)
def test_bad_input_is_a_clear_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ProvenanceError) as info:
        case_url_from_dict(bad)
    assert info.value.code == "bad_case_input"


def test_page_shows_timeline_hashes_and_states_without_pictures(tmp_path: Path) -> None:
    shot = tmp_path / "1.png"
    shot.write_bytes(encode(picture(400, 300), "PNG"))
    urls = [
        case_url_from_dict(_record(str(shot))),
        CaseUrl("javascript:alert(1)", "CASE-2", (), "NONE"),
    ]
    page = _page(urls)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None and html.unescape(csp.group(1)) == CSP_CASE
    assert "script-src 'none'" in CSP_CASE
    assert "<script" not in page
    assert "<img" not in page
    assert MESSAGES[Lang.EN]["case.pictures_off"] in page
    for text in (SHA_A, "2026-11-01T09:00:02Z", "TAKEDOWN_REQUESTED", "REMOVED", "404", "CASE-2"):
        assert text in page
    for text in ("Example TSA", "https://host.example/removed", "reported by the victim &lt;b&gt;"):
        assert text in page
    assert "https://host.example/post/1?&lt;x&gt;" in page
    assert 'href="https://host.example/post/1?&lt;x&gt;"' in page
    assert 'href="javascript' not in page
    assert MESSAGES[Lang.EN]["case.no_visits"] in page
    timeline = page[page.index('<table class="timeline">') :]
    assert timeline.index("ONLINE") < timeline.index("REMOVED")


@pytest.mark.parametrize("mode", [Thumbnails.FULL, Thumbnails.BLUR])
def test_pictures_only_when_asked(tmp_path: Path, mode: Thumbnails) -> None:
    shot = tmp_path / "1.png"
    shot.write_bytes(encode(picture(400, 300), "PNG"))
    page = _page([case_url_from_dict(_record(str(shot)))], thumbnails=mode)
    assert page.count('<img class="evidence" src="data:image/jpeg;base64,') == 1
    assert MESSAGES[Lang.EN]["case.pictures_off"] not in page


def test_korean_case_page() -> None:
    page = _page([case_url_from_dict(_record())], lang=Lang.KO)
    ko = MESSAGES[Lang.KO]
    for key in ("title.case", "case.timeline", "case.pictures_off"):
        assert ko[key] in page


def test_thumbnail_from_the_screenshot_beside_the_evidence(tmp_path: Path) -> None:
    archive = tmp_path / "visit.wacz"
    archive.write_bytes(b"PK\x03\x04 not a picture")
    shot = tmp_path / "visit.png"
    shot.write_bytes(encode(picture(400, 300), "PNG"))
    record = _record(str(archive))
    record["timeline"][0]["evidence"]["screenshot"] = str(shot)
    page = _page([case_url_from_dict(record)], thumbnails=Thumbnails.BLUR)
    assert page.count('<img class="evidence" src="data:image/jpeg;base64,') == 1
    record["timeline"][0]["evidence"]["screenshot"] = None
    page = _page([case_url_from_dict(record)], thumbnails=Thumbnails.FULL)
    assert "<img" not in page


def test_status_words_are_translated_and_codes_kept() -> None:
    record = _record()
    record["timeline"][0]["status"] = "MATCH"
    page = _page([case_url_from_dict(record)], lang=Lang.KO)
    assert "MATCH" in page and MESSAGES[Lang.KO]["status.MATCH"] in page
    assert 'class="state-tag s-MATCH"' in page
