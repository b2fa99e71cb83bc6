"""The check report's HTML: escaping, links, policy, counts, anchors, sections, streaming."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import _render_reports as reports
import pytest
from testkit import encode, picture

from provenance.codes import describe
from provenance.render import (
    CSP_CHECK,
    MESSAGES,
    HtmlCheckReport,
    Lang,
    Thumbnails,
    link_target,
    render_check_report,
)
from provenance.report import Action, Verdict

EVIL_TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
EVIL_URL = "javascript:window.__pwned=3"


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _page(items: list, **kw: object) -> str:
    out = io.StringIO()
    render_check_report(items, out, generated_at="2026-11-21T10:00:00Z", **kw)  # type: ignore[arg-type]
    return out.getvalue()


def _parse(page: str) -> _Elements:
    p = _Elements()
    p.feed(page)
    return p


def test_link_target_only_allows_http_and_https() -> None:
    assert link_target("https://example.org/m.c2pa") == "https://example.org/m.c2pa"
    assert link_target("http://example.org/") == "http://example.org/"
    for url in (
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "//example.org/x",
        "self#jumbf=c2pa/urn:c2pa:1",
        "https:///nohost",
        "",
        None,
    ):
        assert link_target(url) is None, url


def test_strings_from_the_file_are_escaped_and_bad_urls_not_linked() -> None:
    base = reports.trusted()
    assert base.chain is not None
    action = Action("c2pa.created", "Created", digital_source_type=EVIL_URL, description=EVIL_TITLE)
    chain = dataclasses.replace(
        base.chain, title=EVIL_TITLE, claim_generator=EVIL_TITLE, actions=(action,)
    )
    evil = dataclasses.replace(
        base,
        chain=chain,
        summary=(EVIL_TITLE,),
        remote_manifest_url=EVIL_URL,
        subject=dataclasses.replace(base.subject, path="/cases/<b>bold</b>.jpg"),
    )
    page = _page([evil])
    parsed = _parse(page)
    assert "<script>window.__pwned" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;.jpg" in page
    assert all(tag != "b" for tag, _ in parsed.tags)
    assert [tag for tag, _ in parsed.tags].count("script") == 1  # only the filter script
    assert all(
        not (attrs.get("href") or "").lower().startswith("javascript") for _, attrs in parsed.tags
    )
    assert all(
        tag != "img" or (attrs.get("src") or "").startswith("data:") for tag, attrs in parsed.tags
    )
    assert EVIL_URL in page  # shown as text


def test_http_urls_are_links_without_referrer() -> None:
    page = _page([reports.recovered()])
    links = [
        a for tag, a in _parse(page).tags if tag == "a" and a.get("href", "").startswith("http")
    ]
    hrefs = {a["href"] for a in links}
    assert "https://resolver.example.org/" in hrefs
    assert all("noopener" in (a.get("rel") or "") for a in links)


def test_policy_forbids_network_loads_and_allows_only_the_inline_script() -> None:
    page = _page(reports.every_kind())
    parsed = _parse(page)
    metas = [a for tag, a in parsed.tags if tag == "meta" and a.get("http-equiv")]
    assert metas[0]["http-equiv"] == "Content-Security-Policy"
    csp = metas[0]["content"] or ""
    assert csp == CSP_CHECK
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert directives["style-src"] == "'unsafe-inline'"
    (script,) = parsed.scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert directives["script-src"] == f"'sha256-{digest}'"
    # Nothing points outside the page.
    for tag, attrs in parsed.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("#", "data:", "http://cv.iptc.org", "https://")), value
        assert tag not in ("link", "iframe", "object", "embed", "base", "form")


def test_counts_table_rows_and_anchors() -> None:
    items = reports.every_kind()
    page = _page(items)
    parsed = _parse(page)
    counts = [a["data-verdict"] for tag, a in parsed.tags if tag == "li" and "data-verdict" in a]
    assert sorted(counts) == sorted({r.verdict.value for r in items})
    assert re.search(r'data-verdict="TRUSTED"><span class="n">2</span>', page)
    rows = [a for tag, a in parsed.tags if tag == "tr" and "data-detail" in a]
    sections = {a["id"]: a for tag, a in parsed.tags if tag == "section" and "data-verdict" in a}
    assert len(rows) == len(items) == len(sections)
    for row, report in zip(rows, items, strict=True):
        assert row["data-verdict"] == report.verdict.value
        assert sections[row["data-detail"] or ""]["data-verdict"] == report.verdict.value
    hrefs = [
        a["href"]
        for tag, a in parsed.tags
        if tag == "a" and (a.get("href") or "").startswith("#file-")
    ]
    assert {h[1:] for h in hrefs} == set(sections)
    # The filter and the search are hidden until the script shows them.
    assert any(
        tag == "div" and a.get("id") == "toolbar" and "hidden" in a for tag, a in parsed.tags
    )


def _section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    end = page.find("<section", start + 1)
    return page[start : end if end > 0 else len(page)]


def test_detail_shows_every_part_of_the_report() -> None:
    items = reports.every_kind()
    page = _page(items)
    t = MESSAGES[Lang.EN]
    trusted = _section(page, "file-1")
    assert (
        "TRUSTED" in trusted and t["verdict.TRUSTED"] in trusted and t["explain.TRUSTED"] in trusted
    )
    assert (
        "Example News" in trusted
        and "Example News CA" in trusted
        and "Camera 7" not in trusted.split("Provenance chain")[0]
    )
    assert "C2PA trust list" in trusted and "2026-09-01" in trusted
    assert "2026-03-02T09:00:00Z" in trusted and t["cred.tsa_no"] in trusted
    assert t["cred.tsa_yes"] in trusted  # the capture ingredient was time-stamped
    assert "Example Editor 2.1" in trusted and "ExampleCam 1.0" in trusted
    assert "Cropped" in trusted and "c2pa.cropped" in trusted
    assert items[0].subject.sha256 in trusted
    assert "c2pa.digitalSourceType" in trusted
    recovered = _section(page, "file-6")
    for text in ("60cb551f3fcdf80b", "KR_CASE_2024", "1182", "Edited with Photoshop 25.0", "C-7"):
        assert text in recovered
    invalid = _section(page, "file-3")
    assert describe("claimSignature.mismatch") in invalid
    assert describe("signingCredential.untrusted") in invalid
    error = _section(page, "file-5")
    assert "corrupt" in error and "the file is truncated" in error


def test_failing_ingredient_is_shown_failing_behind_a_trusted_parent() -> None:
    page = _page([reports.broken_ingredient()])
    detail = _section(page, "file-1")
    assert 'class="code">TRUSTED<' in detail
    assert 'data-warning="ingredient"' in detail
    nodes = re.findall(r'<li class="node (ok|bad)" data-reliable="(true|false)"', detail)
    assert nodes == [("ok", "true"), ("bad", "false")]
    assert MESSAGES[Lang.EN]["chain.unreliable"] in detail
    assert describe("claimSignature.mismatch") in detail
    assert 'data-warning="ingredient"' not in _page([reports.trusted()])


def test_korean_page_uses_korean_words_and_keeps_codes() -> None:
    page = _page(reports.every_kind(), lang=Lang.KO)
    ko = MESSAGES[Lang.KO]
    assert '<html lang="ko">' in page
    assert ko["title.check"] in page and ko["verdict.TRUSTED"] in page
    assert ko["explain.NO_CREDENTIALS"] in page
    assert "TRUSTED" in page and "claimSignature.mismatch" in page
    assert MESSAGES[Lang.EN]["explain.TRUSTED"] not in page


@pytest.mark.parametrize("mode", list(Thumbnails))
def test_thumbnail_modes(tmp_path: Path, mode: Thumbnails) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(encode(picture(640, 480), "JPEG"))
    page = _page([reports.trusted(path=str(path))], thumbnails=mode)
    imgs = [a for tag, a in _parse(page).tags if tag == "img"]
    if mode is Thumbnails.NONE:
        assert imgs == []
        assert MESSAGES[Lang.EN]["thumb.none"] in page
    else:
        assert len(imgs) == 1 and (imgs[0]["src"] or "").startswith("data:image/jpeg;base64,")
        assert (MESSAGES[Lang.EN]["thumb.blur"] in page) is (mode is Thumbnails.BLUR)


def test_streams_many_reports_through_spool_files() -> None:
    out = io.StringIO()
    page = HtmlCheckReport(out, thumbnails=Thumbnails.NONE, generated_at="2026-11-21T10:00:00Z")
    page.start(3000)
    for i in range(3000):
        page.write(reports.trusted(f"f{i}.jpg") if i % 3 else reports.unsigned(f"f{i}.png"))
        assert out.getvalue() == ""  # nothing is written before the counts are known
    page.finish()
    text = out.getvalue()
    assert text.count("<tr data-verdict=") == 3000
    assert text.count('<section class="file') == 3000
    assert re.search(r'data-verdict="TRUSTED"><span class="n">2000</span>', text)
    assert text.rstrip().endswith("</html>")
    assert page.counts[Verdict.NO_CREDENTIALS] == 1000


def test_empty_batch_is_a_valid_page() -> None:
    page = _page([])
    assert "<tbody>" in page and page.rstrip().endswith("</html>")


def test_timestamp_authority_and_deciding_trust_list_are_shown() -> None:
    from provenance.report import SignatureFacts, Timestamp, TrustListUsed

    facts = SignatureFacts(
        timestamp=Timestamp("2026-03-02T08:11:10Z", "Example <TSA>", False, "not on the TSA list"),
        trust_list=TrustListUsed("C2PA Trust List", "2026-01-01", bundled=True),
    )
    report = dataclasses.replace(reports.trusted(), signature=facts)
    page = _page([report], thumbnails=Thumbnails.NONE)
    assert "Example &lt;TSA&gt;" in page and "not on the TSA list" in page
    assert "not trusted" in page
    assert "C2PA Trust List" in page and "2026-01-01" in page
    assert MESSAGES[Lang.EN]["cred.decided_bundled"] in page
