"""The monitoring case page: one timeline per URL, evidence hashes, request states.

Support staff hand this page to a lawyer. By default it shows no picture at all (the
material may be abusive); ``thumbnails`` ``blur`` or ``full`` add a thumbnail of each kept
evidence file. It shares the check report's head, styles and policy (no network load, and
no script).

The input is small and documented here so that any store can feed it: per URL its
``url``, ``case``, ``request_state`` and a ``timeline`` of visits, each with
``checked_at``, ``status``, ``http_status`` and the ``evidence`` kept (``path``,
``sha256``, ``timestamp``), plus optional details (``final_url``, ``error``, the evidence's
``tsa`` and ``screenshot``, the URL's ``gone_since`` and ``note``).
:func:`case_url_from_dict` reads that shape from plain JSON.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from provenance import __version__
from provenance._clock import utc_text
from provenance.errors import MonitorError
from provenance.render.html import CSP_CASE, template
from provenance.render.messages import Lang, messages
from provenance.render.thumbnails import Thumbnails, file_thumbnail

__all__ = ["CaseUrl", "Evidence", "Visit", "case_url_from_dict", "render_case_page"]


@dataclass(frozen=True)
class Evidence:
    """A file kept from one visit (a capture of the page or of the material)."""

    path: str
    """Where the evidence file is stored."""
    sha256: str
    """Lowercase hex SHA-256 of the evidence file."""
    timestamp: str | None = None
    """RFC 3339 time the evidence was made or time-stamped."""
    tsa: str | None = None
    """The time-stamping authority that signed the timestamp, when there is one."""
    screenshot: str | None = None
    """A picture of the page kept beside the evidence (the thumbnail, when asked for)."""


@dataclass(frozen=True)
class Visit:
    """One check of a URL."""

    checked_at: str
    """RFC 3339 UTC time of the check."""
    status: str
    """What the check found (the monitor's own status word, shown as it is)."""
    http_status: int | None = None
    """The HTTP status code, or None when no response came."""
    evidence: Evidence | None = None
    """The evidence kept from this visit, if any."""
    final_url: str | None = None
    """The URL after redirects, when it differs."""
    error: str | None = None
    """Why nothing could be fetched (one line), when that happened."""


@dataclass(frozen=True)
class CaseUrl:
    """One monitored URL and its history."""

    url: str
    case: str | None = None
    """The case it belongs to."""
    timeline: tuple[Visit, ...] = ()
    """Visits, oldest first."""
    request_state: str | None = None
    """State of the takedown request (shown as it is)."""
    gone_since: str | None = None
    """When the material was first seen gone after it was last found."""
    note: str | None = None
    """A note kept with the URL."""


def _bad(message: str) -> MonitorError:
    return MonitorError(message, code="bad_case_input")


def _text(d: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = d.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _bad(f"{key!r} must be a string, got {type(value).__name__}")
    return value


def _visit(d: Any) -> Visit:
    if not isinstance(d, Mapping):
        raise _bad("each timeline entry must be an object")
    http = d.get("http_status")
    if http is not None and (not isinstance(http, int) or isinstance(http, bool)):
        raise _bad("'http_status' must be an integer or null")
    ev = d.get("evidence")
    evidence = None
    if ev is not None:
        if not isinstance(ev, Mapping):
            raise _bad("'evidence' must be an object or null")
        evidence = Evidence(
            path=_text(ev, "path", required=True) or "",
            sha256=_text(ev, "sha256", required=True) or "",
            timestamp=_text(ev, "timestamp"),
            tsa=_text(ev, "tsa"),
            screenshot=_text(ev, "screenshot"),
        )
    return Visit(
        checked_at=_text(d, "checked_at", required=True) or "",
        status=_text(d, "status", required=True) or "",
        http_status=http,
        evidence=evidence,
        final_url=_text(d, "final_url"),
        error=_text(d, "error"),
    )


def case_url_from_dict(d: Mapping[str, Any]) -> CaseUrl:
    """Read one URL's record from plain JSON (the documented input of the case page).

    Parameters
    ----------
    d
        ``{"url", "case", "request_state", "gone_since", "note", "timeline": [{"checked_at",
        "status", "http_status", "final_url", "error", "evidence": {"path", "sha256",
        "timestamp", "tsa", "screenshot"} | null}]}``.

    Returns
    -------
    CaseUrl
        The record.

    Raises
    ------
    MonitorError
        Code ``bad_case_input`` when a field is missing or has the wrong type.
    """
    if not isinstance(d, Mapping):
        raise _bad("each URL record must be an object")
    timeline = d.get("timeline", [])
    if not isinstance(timeline, list):
        raise _bad("'timeline' must be a list")
    return CaseUrl(
        url=_text(d, "url", required=True) or "",
        case=_text(d, "case"),
        timeline=tuple(_visit(v) for v in timeline),
        request_state=_text(d, "request_state"),
        gone_since=_text(d, "gone_since"),
        note=_text(d, "note"),
    )


def _evidence_thumb(visit: Visit, mode: Thumbnails) -> str | None:
    """The thumbnail of a visit's screenshot, else of its evidence file if it is a picture."""
    if mode is Thumbnails.NONE or visit.evidence is None:
        return None
    for path in (visit.evidence.screenshot, visit.evidence.path):
        if path and os.path.isfile(path):
            thumb = file_thumbnail(path, mode)
            if thumb is not None:
                return thumb
    return None


def render_case_page(
    urls: Iterable[CaseUrl],
    stream: TextIO,
    *,
    lang: Lang = Lang.EN,
    thumbnails: Thumbnails = Thumbnails.NONE,
    generated_at: str | None = None,
) -> int:
    """Write the case page for some monitored URLs.

    Parameters
    ----------
    urls
        The URLs with their timelines.
    stream
        Where the page goes.
    lang
        The language of every UI string.
    thumbnails
        ``none`` (default: no picture), ``blur`` or ``full`` for the evidence files.
    generated_at
        RFC 3339 time printed in the header (default: now).

    Returns
    -------
    int
        The number of URLs written.
    """
    items = list(urls)
    thumbs = {
        (i, j): _evidence_thumb(v, thumbnails)
        for i, u in enumerate(items)
        for j, v in enumerate(u.timeline)
    }
    context = {
        "t": messages(lang),
        "lang": lang.value,
        "csp": CSP_CASE,
        "version": __version__,
        "generated_at": generated_at or utc_text(),
        "items": items,
        "thumbs": thumbs,
        "thumbnails": thumbnails.value,
    }
    for chunk in template("case.html.j2").generate(context):
        stream.write(chunk)
    stream.flush()
    return len(items)
