"""Whatever a file says, the HTML report's structure does not change and no link is unsafe."""

from __future__ import annotations

import dataclasses
import io
from html.parser import HTMLParser
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.render import Thumbnails, link_target, render_check_report
from provenance.report import (
    Action,
    AiAssessment,
    AiLabel,
    ChainNode,
    Report,
    Subject,
    ToolInfo,
    Verdict,
)

TOOL = ToolInfo("0.1.0", "0.91.3", (), "2026-11-21T10:00:00Z")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(name for name, _ in attrs))))
        self.hrefs.extend(v or "" for n, v in attrs if n == "href")


def _report(text: str) -> Report:
    chain = ChainNode(
        label="urn:c2pa:1",
        title=text,
        format="image/jpeg",
        issuer=None,
        signing_time=text,
        signing_time_source="claimed",
        claim_generator=text,
        claim_generator_version=text,
        actions=(Action("c2pa.created", text, software_agent=text, digital_source_type=text),),
    )
    return Report(
        subject=Subject(path="/cases/" + text.replace("/", "_"), sha256="0" * 64),
        verdict=Verdict.TRUSTED,
        summary=(text,),
        chain=chain,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN),
        tool=TOOL,
        remote_manifest_url=text,
    )


def _tags(report: Report) -> _Tags:
    out = io.StringIO()
    render_check_report(
        [report], out, thumbnails=Thumbnails.NONE, generated_at="2026-11-21T10:00:00Z"
    )
    parser = _Tags()
    parser.feed(out.getvalue())
    return parser


BASELINE = _tags(_report("plain")).tags


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("<>&\"'/=:;() \tjavascriptJSdata\u2028\x00abc<script>"),
        min_size=1,
        max_size=60,
    )
)
def test_file_text_never_changes_the_page_structure(text: str) -> None:
    parsed = _tags(_report(text))
    assert parsed.tags == BASELINE
    for href in parsed.hrefs:
        assert href.startswith("#") or urlsplit(href).scheme in ("http", "https")


@given(st.text(max_size=80))
def test_link_target_returns_only_http_urls(url: str) -> None:
    target = link_target(url)
    if target is not None:
        assert target == url
        assert urlsplit(url).scheme.lower() in ("http", "https") and urlsplit(url).netloc


def test_http_url_keeps_the_page_structure_but_adds_a_link() -> None:
    report = dataclasses.replace(_report("plain"), remote_manifest_url="https://example.org/m")
    parsed = _tags(report)
    assert "https://example.org/m" in parsed.hrefs
