"""HTML reports opened in a real browser (headless Chromium): what people will see.

The reports come from real checks of files signed with the test PKI, plus one file whose
manifest carries a ``<script>`` title and ``javascript:`` URLs, and one report whose
ingredient failed validation behind a TRUSTED parent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from browserkit import Loaded, load
from testkit import Signed, _actions, _signer, encode, picture, sign_bytes

import provenance
from provenance.render import (
    Lang,
    Thumbnails,
    case_url_from_dict,
    render_case_page,
    render_check_report,
)
from provenance.report import Failure, Report, Verdict

pytestmark = pytest.mark.browser

EVIL = "<script>window.__pwned = 1</script>"
EVIL_URL = "javascript:window.__pwned=2"


def _hostile(signed: Signed, directory: Path) -> Path:
    """A signed picture whose title, claim generator and software agent are a script, and
    whose digital source type and description are ``javascript:`` URLs."""
    definition = {
        "claim_generator_info": [{"name": EVIL, "version": "1"}],
        "title": EVIL + ".jpg",
        "assertions": [
            _actions(
                {
                    "action": "c2pa.created",
                    "digitalSourceType": EVIL_URL,
                    "softwareAgent": {"name": EVIL},
                    "description": EVIL_URL,
                }
            )
        ],
    }
    data, _ = sign_bytes(
        definition,
        encode(picture(480, 320, seed=7), "JPEG", quality=90),
        "image/jpeg",
        _signer(signed.pki, "es256"),
    )
    path = directory / "hostile.jpg"
    path.write_bytes(data)
    return path


def _broken_ingredient(report: Report) -> Report:
    """``report`` with its first ingredient failing validation (recorded when added)."""
    assert report.chain is not None and report.chain.ingredients
    first = report.chain.ingredients[0]
    bad = Failure(
        "claimSignature.mismatch",
        "The signature does not match the credentials.",
        manifest=first.label,
        origin="ingredient_record",
    )
    broken = dataclasses.replace(first, failures=(*first.failures, bad))
    chain = dataclasses.replace(report.chain, ingredients=(broken, *report.chain.ingredients[1:]))
    return dataclasses.replace(report, chain=chain, failures=(*report.failures, bad))


@pytest.fixture(scope="module")
def batch(signed: Signed, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Report]]:
    """A batch report of real checks, rendered once."""
    d = tmp_path_factory.mktemp("html-report")
    files = [
        signed.capture,
        signed.edit,
        signed.publish,
        signed.ai_ingredient,
        signed.tampered_pixels,
        signed.tampered_manifest,
        signed.unsigned_jpeg,
        signed.mp4,
        _hostile(signed, d),
    ]
    reports = [provenance.check(p, trust_anchors=[signed.root]) for p in files]
    reports.append(_broken_ingredient(reports[2]))
    page = d / "report.html"
    with page.open("w", encoding="utf-8") as out:
        render_check_report(reports, out, lang=Lang.EN, thumbnails=Thumbnails.FULL)
    return page, reports


def _assert_clean(loaded: Loaded, page: Path) -> None:
    errors = [e for e in loaded.console if e.get("level") in ("SEVERE", "WARNING")]
    assert errors == [], errors
    outside = [
        u for u in loaded.requests if u != page.resolve().as_uri() and not u.startswith("data:")
    ]
    assert outside == [], outside


def _visible_rows(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#files tbody tr")
    return [r.get_attribute("data-detail") for r in rows if r.is_displayed()]


def test_verdict_per_file_no_errors_no_network(
    browser: Any, batch: tuple[Path, list[Report]], screenshot: Callable[..., Path]
) -> None:
    from selenium.webdriver.common.by import By

    page, reports = batch
    loaded = load(browser, page)
    _assert_clean(loaded, page)
    expected = [r.verdict.value for r in reports]
    assert expected[:8] == [
        "TRUSTED",
        "TRUSTED",
        "TRUSTED",
        "TRUSTED",
        "INCOMPLETE",
        "INVALID",
        "NO_CREDENTIALS",
        "TRUSTED",
    ]
    rows = browser.find_elements(By.CSS_SELECTOR, "#files tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, ".badge").text.split()[-1] for r in rows] == expected
    labels = browser.find_elements(By.CSS_SELECTOR, "section.file .label .code")
    assert [label.text for label in labels] == expected
    # Each row links to its own detail section.
    for i, row in enumerate(rows, start=1):
        link = row.find_element(By.CSS_SELECTOR, "a")
        assert link.get_attribute("href").endswith(f"#file-{i}")
        assert (
            browser.find_element(By.ID, f"file-{i}").get_attribute("data-verdict")
            == expected[i - 1]
        )
    # Thumbnails are data: URIs at most 320 px wide (the video shows a frame too).
    for img in browser.find_elements(By.CSS_SELECTOR, "figure.thumb img"):
        assert img.get_attribute("src").startswith("data:image/jpeg;base64,")
        assert browser.execute_script("return arguments[0].naturalWidth", img) <= 320
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.thumb img")) == len(reports)
    counts = {
        e.get_attribute("data-verdict"): int(e.find_element(By.CSS_SELECTOR, ".n").text)
        for e in browser.find_elements(By.CSS_SELECTOR, "#counts li")
    }
    assert counts == {v: expected.count(v) for v in set(expected)}
    screenshot(browser, "report-batch.png")


def test_filter_and_search(browser: Any, batch: tuple[Path, list[Report]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page, reports = batch
    load(browser, page)
    toolbar = browser.find_element(By.ID, "toolbar")
    assert toolbar.is_displayed()
    every = [f"file-{i}" for i in range(1, len(reports) + 1)]
    assert _visible_rows(browser) == every
    Select(browser.find_element(By.ID, "verdict-filter")).select_by_value("INVALID")
    assert _visible_rows(browser) == ["file-6"]
    assert browser.find_element(By.ID, "file-6").is_displayed()
    assert not browser.find_element(By.ID, "file-1").is_displayed()
    assert browser.find_element(By.ID, "shown").text == "1"
    Select(browser.find_element(By.ID, "verdict-filter")).select_by_value("")
    search = browser.find_element(By.ID, "search")
    search.send_keys("tampered")
    assert _visible_rows(browser) == ["file-5", "file-6"]
    search.clear()
    search.send_keys(reports[6].subject.sha256[:12].upper())
    assert _visible_rows(browser) == ["file-7"]
    search.clear()
    search.send_keys("x")
    search.clear()
    browser.execute_script("arguments[0].dispatchEvent(new Event('input'))", search)
    assert _visible_rows(browser) == every
    assert browser.get_log("browser") == []


def test_script_title_and_javascript_url_neither_run_nor_link(
    browser: Any, batch: tuple[Path, list[Report]]
) -> None:
    from selenium.webdriver.common.by import By

    page, _ = batch
    loaded = load(browser, page)
    _assert_clean(loaded, page)
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    hrefs = [a.get_attribute("href") or "" for a in browser.find_elements(By.TAG_NAME, "a")]
    assert hrefs and not any(h.strip().lower().startswith("javascript") for h in hrefs)
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1
    hostile = browser.find_element(By.ID, "file-9")
    text = hostile.text
    assert EVIL + ".jpg" in text  # shown as text
    assert EVIL_URL in text
    assert hostile.find_elements(By.CSS_SELECTOR, f'a[href="{EVIL_URL}"]') == []
    assert hostile.find_element(By.CSS_SELECTOR, ".label .code").text == "TRUSTED"
    # Clicking where the URL is shown does nothing either.
    for code in hostile.find_elements(By.TAG_NAME, "code"):
        if code.text == EVIL_URL:
            code.click()
    assert browser.execute_script("return typeof window.__pwned") == "undefined"


def test_failing_ingredient_behind_trusted_parent(
    browser: Any, batch: tuple[Path, list[Report]], screenshot: Callable[..., Path]
) -> None:
    from selenium.webdriver.common.by import By

    page, reports = batch
    load(browser, page)
    anchor = f"file-{len(reports)}"
    browser.find_element(By.CSS_SELECTOR, f'#files a[href="#{anchor}"]').click()
    detail = browser.find_element(By.ID, anchor)
    assert detail.find_element(By.CSS_SELECTOR, ".label .code").text == "TRUSTED"
    assert detail.find_element(By.CSS_SELECTOR, '[data-warning="ingredient"]').is_displayed()
    nodes = detail.find_elements(By.CSS_SELECTOR, "li.node")
    reliability = [n.get_attribute("data-reliable") for n in nodes]
    assert reliability[0] == "true" and "false" in reliability
    failing = nodes[reliability.index("false")]
    assert "claimSignature.mismatch" in failing.text
    assert browser.execute_script("return window.scrollY") > 0  # the link jumped down
    screenshot(detail, "report-detail.png")


def test_every_detail_is_there_without_javascript(
    browser_no_js: Any, batch: tuple[Path, list[Report]]
) -> None:
    from selenium.webdriver.common.by import By

    page, reports = batch
    loaded = load(browser_no_js, page)
    _assert_clean(loaded, page)
    assert not browser_no_js.find_element(By.ID, "toolbar").is_displayed()
    sections = browser_no_js.find_elements(By.CSS_SELECTOR, "section.file")
    assert len(sections) == len(reports) and all(s.is_displayed() for s in sections)
    assert all(
        r.is_displayed() for r in browser_no_js.find_elements(By.CSS_SELECTOR, "#files tbody tr")
    )


def test_korean_report(browser: Any, signed: Signed, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    report = provenance.check(signed.capture, trust_anchors=[signed.root])
    page = tmp_path / "ko.html"
    with page.open("w", encoding="utf-8") as out:
        render_check_report([report], out, lang=Lang.KO, thumbnails=Thumbnails.BLUR)
    loaded = load(browser, page)
    _assert_clean(loaded, page)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ko"
    assert browser.find_element(By.TAG_NAME, "h1").text == "콘텐츠 자격 증명 보고서"
    assert browser.find_element(By.CSS_SELECTOR, ".label").text.split()[-1] == "신뢰됨"


def test_case_page(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    shot = tmp_path / "evidence.png"
    shot.write_bytes(encode(picture(300, 200), "PNG"))
    record = {
        "url": "javascript:window.__pwned=5",
        "case": EVIL,
        "request_state": "TAKEDOWN_REQUESTED",
        "timeline": [
            {
                "checked_at": "2026-11-01T09:00:00Z",
                "status": "ONLINE",
                "http_status": 200,
                "evidence": {"path": str(shot), "sha256": "ab" * 32, "timestamp": None},
            }
        ],
    }
    page = tmp_path / "case.html"
    with page.open("w", encoding="utf-8") as out:
        render_case_page([case_url_from_dict(record)], out)
    loaded = load(browser, page)
    _assert_clean(loaded, page)
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.find_elements(By.TAG_NAME, "img") == []
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert "ab" * 32 in browser.find_element(By.ID, "url-1").text
    assert EVIL in browser.find_element(By.ID, "url-1").text


def test_report_from_the_command_line(browser: Any, signed: Signed, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from verify_cli.app import app

    page = tmp_path / "cli.html"
    result = CliRunner().invoke(
        app,
        [
            "check",
            str(signed.capture),
            str(signed.tampered_manifest),
            "--trust-anchors",
            str(signed.root),
            "--format",
            "html",
            "--output",
            str(page),
            "--lang",
            "en",
        ],
    )
    assert result.exit_code == 0, result.output
    loaded = load(browser, page)
    _assert_clean(loaded, page)
    assert [v.value for v in (Verdict.TRUSTED, Verdict.INVALID)] == [
        e.text for e in browser.find_elements("css selector", "section.file .label .code")
    ]
