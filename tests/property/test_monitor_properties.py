"""Properties of the monitor's URL and HTML handling."""

from __future__ import annotations

import urllib.parse

from hypothesis import given
from hypothesis import strategies as st

from provenance.monitor import MonitorError, check_url, extract_media, redact_url

_SECRET = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=12)


@given(user=_SECRET, password=_SECRET, path=st.text(alphabet="abc/._-", max_size=20))
def test_credentials_never_survive(user: str, password: str, path: str) -> None:
    url = f"https://{user}:{password}@example.org/{path}"
    clean = check_url(url)
    assert password not in clean and "@" not in clean
    assert redact_url(url) == clean or clean.endswith("/")


@given(st.text(max_size=300))
def test_check_url_accepts_only_http_with_a_host(text: str) -> None:
    try:
        clean = check_url(text)
    except MonitorError:
        return
    parts = urllib.parse.urlsplit(clean)
    assert parts.scheme.lower() in ("http", "https") and parts.hostname


@given(st.text(max_size=500))
def test_extraction_never_fails_and_gives_absolute_urls(html: str) -> None:
    for url in extract_media(html, "https://example.org/a/b"):
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        assert scheme in ("http", "https", "data")


@given(
    st.lists(st.sampled_from(["a.jpg", "/b.png", "../c.webp", "d e.gif", "x.jpg#f"]), max_size=8)
)
def test_every_img_is_found_once(names: list[str]) -> None:
    html = "".join(f'<img src="{n}">' for n in names)
    found = extract_media(html, "https://example.org/a/b")
    expected = {
        urllib.parse.urldefrag(urllib.parse.urljoin("https://example.org/a/b", n))[0] for n in names
    }
    assert set(found) == expected and len(found) == len(expected)
