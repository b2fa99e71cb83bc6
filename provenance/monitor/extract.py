"""Media URLs named by an HTML page, found with the standard library's HTML parser.

Read: ``img`` ``src``/``srcset`` (and the common lazy-loading ``data-src``/``data-srcset``),
``picture``/``source`` and ``video``/``source`` ``src``/``srcset``, ``video`` ``poster``,
``og:image``/``og:video``/``twitter:image`` meta tags, and ``url(...)`` in inline ``style``
attributes (``background-image``). URLs are resolved against the page URL (and its
``<base href>``), deduplicated in document order, and limited to http(s) and ``data:``.
"""

from __future__ import annotations

import re
import urllib.parse
from html.parser import HTMLParser
from typing import Final

__all__ = ["MAX_MEDIA", "extract_media", "looks_like_html"]

MAX_MEDIA: Final = 200
"""At most this many media URLs are taken from one page."""

_SRC_ATTRS: Final = {
    "img": ("src", "data-src", "srcset", "data-srcset"),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "image": ("href", "xlink:href"),
}
_META_NAMES: Final = frozenset(
    {
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "og:video",
        "og:video:url",
        "og:video:secure_url",
        "twitter:image",
        "twitter:image:src",
        "twitter:player:stream",
    }
)
_CSS_URL: Final = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
_HTML_HINTS: Final = (b"<!doctype html", b"<html", b"<head", b"<body", b"<img", b"<meta", b"<title")


def looks_like_html(head: bytes) -> bool:
    """Whether the first bytes of a response look like an HTML document (sniffed, not declared).

    Examples
    --------
    >>> looks_like_html(b"  <!DOCTYPE html><html>"), looks_like_html(b"\\x89PNG")
    (True, False)
    """
    text = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return any(hint in text for hint in _HTML_HINTS)


def _srcset(value: str) -> list[str]:
    # "a.jpg 1x, b.jpg 2x": each candidate is a URL followed by an optional descriptor.
    return [part.strip().split()[0] for part in value.split(",") if part.strip()]


class _MediaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v for k, v in attrs if v is not None}
        if tag == "base" and "href" in a and self.base is None:
            self.base = a["href"].strip()
        for name in _SRC_ATTRS.get(tag, ()):
            if name in a:
                self.found.extend(_srcset(a[name]) if name.endswith("srcset") else [a[name]])
        if tag == "meta":
            key = (a.get("property") or a.get("name") or "").strip().lower()
            if key in _META_NAMES and a.get("content"):
                self.found.append(a["content"])
        if "style" in a:
            self.found.extend(m.group(2) for m in _CSS_URL.finditer(a["style"]))

    handle_startendtag = handle_starttag


def extract_media(html: str, page_url: str) -> list[str]:
    """Return the absolute media URLs named by ``html`` (see the module docstring).

    Examples
    --------
    >>> page = '<img srcset="a.jpg 1x, /b.png 2x"><div style="background-image:url(c.webp)">'
    >>> extract_media(page, "https://example.org/p/")
    ['https://example.org/p/a.jpg', 'https://example.org/b.png', 'https://example.org/p/c.webp']
    """
    parser = _MediaParser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser on pathological markup
        pass
    base = page_url
    if parser.base:
        base = urllib.parse.urljoin(page_url, parser.base)
    out: dict[str, None] = {}
    for raw in parser.found:
        value = raw.strip()
        if not value:
            continue
        if value.lower().startswith("data:"):
            out.setdefault(value, None)
            continue
        try:
            absolute = urllib.parse.urljoin(base, value)
            scheme = urllib.parse.urlsplit(absolute).scheme.lower()
        except ValueError:
            continue
        if scheme in ("http", "https"):
            out.setdefault(urllib.parse.urldefrag(absolute)[0], None)
        if len(out) >= MAX_MEDIA:
            break
    return list(out)
