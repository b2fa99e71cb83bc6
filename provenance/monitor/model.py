"""Plain results of URL monitoring: statuses, matches, evidence, visits, status rows.

Everything here is a frozen dataclass with a ``to_dict()`` giving the JSON record fields of
``spec/monitor.md``. The renderer of ``verify monitor status --format html`` reads
:class:`UrlStatus` (one row per URL, with its timeline of :class:`Visit`), which
:meth:`provenance.monitor.store.MonitorStore.status` returns.
"""

from __future__ import annotations

import enum
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Final

from provenance._clock import utc_text
from provenance.errors import MonitorError

__all__ = [
    "Evidence",
    "Match",
    "MonitorError",
    "RequestState",
    "Status",
    "UrlStatus",
    "Visit",
    "check_url",
    "parse_duration",
    "redact_url",
    "utc_now",
]

EVIDENCE_AFTER_MATCH: Final = frozenset({"GONE", "NO_MATCH"})
"""Statuses that get evidence when they are the first after a ``MATCH``."""


class Status(enum.StrEnum):
    """What one visit of a URL found."""

    MATCH = "MATCH"
    """The URL serves matching media, or an HTML page whose media match."""
    NO_MATCH = "NO_MATCH"
    """The page or file was served (2xx) and nothing on it matches."""
    GONE = "GONE"
    """HTTP 404, 410 or 451."""
    UNREACHABLE = "UNREACHABLE"
    """DNS failure, refused connection, TLS error, timeout, 429, 5xx or another non-2xx answer:
    nothing is known about deletion; the URL is checked again next run."""


class RequestState(enum.StrEnum):
    """What is known about a deletion request for a URL."""

    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REFUSED = "refused"
    REMOVED = "removed"


@dataclass(frozen=True)
class Match:
    """One media file on a visited URL that matches a reference."""

    media_url: str
    """Where the media was found (credentials removed)."""
    sha256: str
    """SHA-256 of the media as served."""
    method: str
    """``sha256``, ``pdq``, ``watermark`` or ``video_pdq``."""
    distance: int | None
    """PDQ Hamming distance (best rotation/flip); 0 for ``sha256``; None for ``watermark``."""
    ref: str
    """Name of the matching reference (its file name when added)."""

    def to_dict(self) -> dict[str, Any]:
        """The record's ``matches`` item."""
        return {
            "media_url": self.media_url,
            "sha256": self.sha256,
            "method": self.method,
            "distance": self.distance,
            "ref": self.ref,
        }


@dataclass(frozen=True)
class Evidence:
    """A WACZ written for a visit, with its optional timestamp and screenshot."""

    path: str
    """The WACZ file."""
    sha256: str
    """SHA-256 of the WACZ file."""
    timestamp: str | None = None
    """RFC 3161 time (UTC ISO 8601) of the timestamp token over ``sha256``, when one was asked."""
    timestamp_token: str | None = None
    """The DER timestamp response file beside the WACZ (``.tsr``)."""
    tsa: str | None = None
    """The time-stamping authority that signed it."""
    screenshot: str | None = None
    """A full-page PNG screenshot inside the WACZ, when one was taken."""

    def to_dict(self) -> dict[str, Any]:
        """The record's ``evidence`` object."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "timestamp": self.timestamp,
            "timestamp_token": self.timestamp_token,
            "tsa": self.tsa,
            "screenshot": self.screenshot,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        """Read back :meth:`to_dict`."""
        return cls(
            path=d["path"],
            sha256=d["sha256"],
            timestamp=d.get("timestamp"),
            timestamp_token=d.get("timestamp_token"),
            tsa=d.get("tsa"),
            screenshot=d.get("screenshot"),
        )


@dataclass(frozen=True)
class Visit:
    """One visit of one URL: the ``verify monitor run`` record."""

    case: str
    url: str
    final_url: str | None
    """The URL after redirects (None when nothing answered)."""
    status: Status
    http_status: int | None
    checked_at: str
    """UTC ISO 8601."""
    previous_status: Status | None
    """Status of the previous visit of this URL (None on the first)."""
    matches: tuple[Match, ...] = ()
    evidence: Evidence | None = None
    error: str | None = None
    """One line, for ``UNREACHABLE``."""
    notes: tuple[str, ...] = field(default=())
    """Things worth knowing that do not change the status (media that could not be read, ...)."""

    @property
    def changed(self) -> bool:
        """True when a previous visit exists and its status differs."""
        return self.previous_status is not None and self.previous_status != self.status

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of ``spec/monitor.md``."""
        return {
            "schema": "jinjja.monitor-visit/v1",
            "case": self.case,
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status.value,
            "http_status": self.http_status,
            "checked_at": self.checked_at,
            "previous_status": None if self.previous_status is None else self.previous_status.value,
            "changed": self.changed,
            "matches": [m.to_dict() for m in self.matches],
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
            "error": self.error,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class UrlStatus:
    """One row of ``verify monitor status``: a URL's history summed up, with its timeline."""

    case: str
    url: str
    note: str | None
    first_checked: str | None
    last_checked: str | None
    last_status: Status | None
    last_match_at: str | None
    gone_since: str | None
    """The first non-MATCH visit after the last MATCH (None while it matches or never did)."""
    checks: int
    request_state: str | None
    """The last recorded request state, or ``removed_but_present`` when it was marked
    ``removed`` and its last visit still matches."""
    timeline: tuple[Visit, ...] = ()
    """Every visit, oldest first (filled when asked for)."""

    def to_dict(self, *, timeline: bool = False) -> dict[str, Any]:
        """The status record; ``timeline`` adds every visit."""
        d: dict[str, Any] = {
            "schema": "jinjja.monitor-status/v1",
            "case": self.case,
            "url": self.url,
            "first_checked": self.first_checked,
            "last_checked": self.last_checked,
            "last_status": None if self.last_status is None else self.last_status.value,
            "last_match_at": self.last_match_at,
            "gone_since": self.gone_since,
            "checks": self.checks,
            "request_state": self.request_state,
        }
        if timeline:
            d["timeline"] = [v.to_dict() for v in self.timeline]
        return d


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and ``Z``."""
    return utc_text(micro=True)


def redact_url(url: str) -> str:
    """Remove ``user:password@`` from a URL, for printing and storing.

    Examples
    --------
    >>> redact_url("https://bob:secret@example.org:8443/a?b=1")
    'https://example.org:8443/a?b=1'
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def check_url(url: str) -> str:
    """Return ``url`` without credentials (and with ``/`` for an empty path) when it is an
    http(s) URL with a host.

    Raises
    ------
    MonitorError
        ``bad_url`` for any other scheme, a missing host or a malformed URL.
    """
    text = url.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise MonitorError(f"malformed URL: {exc}", code="bad_url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise MonitorError(
            f"only http and https URLs can be monitored, not {parts.scheme or 'a bare path'!r}",
            code="bad_url",
        )
    if not parts.hostname or any(c.isspace() for c in text):
        raise MonitorError("the URL has no host or contains spaces", code="bad_url")
    if not parts.path:
        text = urllib.parse.urlunsplit(parts._replace(path="/"))
    return redact_url(text)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Parse ``90``, ``90s``, ``15m``, ``6h`` or ``1d`` into seconds (at least 1 s).

    Examples
    --------
    >>> parse_duration("6h"), parse_duration("1.5m")
    (21600.0, 90.0)
    """
    m = _DURATION.match(text.lower())
    if m is None:
        raise MonitorError(
            f"not a duration: {text!r} (use e.g. 90s, 15m, 6h, 1d)", code="bad_duration"
        )
    seconds = float(m.group(1)) * _UNIT[m.group(2)]
    if seconds < 1:
        raise MonitorError("the interval must be at least 1 second", code="bad_duration")
    return seconds
