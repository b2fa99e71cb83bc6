"""URL checks, durations and HTML media extraction."""

from __future__ import annotations

import pytest

from provenance.monitor import MonitorError, check_url, extract_media, parse_duration, redact_url
from provenance.monitor.extract import looks_like_html
from provenance.monitor.fetch import sniff, user_agent


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/a",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.org/a",
        "http://",
        "https://exa mple.org/",
        "http://example.org:99999/",
    ],
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(MonitorError) as info:
        check_url(url)
    assert info.value.code == "bad_url"


def test_credentials_are_removed() -> None:
    assert check_url(" https://bob:s3cret@example.org/p?q=1 ") == "https://example.org/p?q=1"
    assert redact_url("http://u@h.example/x") == "http://h.example/x"
    assert redact_url("http://h.example/x") == "http://h.example/x"
    assert check_url("https://example.org") == "https://example.org/"
    assert check_url("https://example.org?a=1") == "https://example.org/?a=1"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("6h", 21600.0), ("1d", 86400.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "6x", "-1h", "0", "0.5s", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(MonitorError):
        parse_duration(text)


PAGE = """<!doctype html><html><head>
<base href="https://cdn.example.org/base/">
<meta property="og:image" content="https://img.example.org/og.jpg">
<meta name="twitter:image" content="/tw.png">
<meta name="description" content="not-an-image.jpg">
</head><body>
<img src="a.jpg" srcset="a-1x.jpg 1x, a-2x.jpg 2x">
<img data-src="lazy.webp">
<picture><source srcset="pic.avif 100w, pic2.avif 200w"><img src="pic.jpg"></picture>
<video poster="poster.jpg" src="clip.mp4"><source src="clip.webm"></video>
<div style="color: red; background-image: url('bg.jpg')"></div>
<span style="background:url(bg2.png) no-repeat"></span>
<img src="a.jpg#again"><img src="mailto:x@example.org"><img src="">
<img src="data:image/png;base64,iVBORw0KGgo=">
</body></html>"""


def test_extract_every_kind_of_media_reference() -> None:
    found = extract_media(PAGE, "https://site.example.org/post/1")
    base = "https://cdn.example.org/base/"
    assert found == [
        "https://img.example.org/og.jpg",
        "https://cdn.example.org/tw.png",
        base + "a.jpg",
        base + "a-1x.jpg",
        base + "a-2x.jpg",
        base + "lazy.webp",
        base + "pic.avif",
        base + "pic2.avif",
        base + "pic.jpg",
        base + "clip.mp4",
        base + "poster.jpg",
        base + "clip.webm",
        base + "bg.jpg",
        base + "bg2.png",
        "data:image/png;base64,iVBORw0KGgo=",
    ]


def test_extract_survives_broken_markup() -> None:
    assert extract_media("<img src='x.jpg'<<<><div style='url(", "http://h.example/") == [
        "http://h.example/x.jpg"
    ]
    assert extract_media("<img src=x.jpg>", "http://h.example/d/") == ["http://h.example/d/x.jpg"]


def test_content_type_is_sniffed() -> None:
    assert sniff(b"\xff\xd8\xff\xe0" + bytes(16)) == "image/jpeg"
    assert sniff(b"\n<!DOCTYPE html><p>") == "text/html"
    assert sniff(b"just text") is None
    assert looks_like_html(b"<html>") and not looks_like_html(b"GIF89a")


def test_user_agent_names_the_project() -> None:
    assert user_agent().startswith("jinjja/")
