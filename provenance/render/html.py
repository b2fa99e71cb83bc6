"""Self-contained HTML reports: Jinja2 templates shipped in the package, streamed to a file.

The page carries its CSS and script inline and a Content-Security-Policy that forbids every
network load (``default-src 'none'``; pictures only as ``data:`` URIs; the one script
allowed by its SHA-256). Everything taken from a file is escaped by Jinja2's autoescaping,
and a URL becomes a link only when it is ``http(s)``.

:class:`HtmlCheckReport` streams: each report is rendered once, its table row and its detail
section go to two spool files, and :meth:`HtmlCheckReport.finish` writes the page head (with
the counts per verdict, known only at the end), the table and the details. Memory stays
flat for 10,000 files. Renderers never recompute a verdict: the templates read
:attr:`Report.verdict`, :attr:`Report.summary` and the sections as they are.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import os
import shutil
import tempfile
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import PurePath
from typing import IO, Any, Final, TextIO
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from provenance import __version__
from provenance._clock import utc_text
from provenance.codes import describe
from provenance.render.messages import Lang, messages
from provenance.render.thumbnails import Thumbnails, file_thumbnail
from provenance.report import TRUST_ONLY_CODES, Report, Verdict

__all__ = [
    "CSP_CASE",
    "CSP_CHECK",
    "VERDICT_ORDER",
    "HtmlCheckReport",
    "environment",
    "link_target",
    "render_check_report",
    "template",
]


VERDICT_ORDER: Final = (
    Verdict.TRUSTED,
    Verdict.VALID_UNTRUSTED,
    Verdict.RECOVERED,
    Verdict.INCOMPLETE,
    Verdict.INVALID,
    Verdict.NO_CREDENTIALS,
    Verdict.ERROR,
)
"""The order of the counts and of the verdict filter (most reassuring first)."""


def _resource(name: str) -> str:
    return (importlib.resources.files("provenance.render") / "templates" / name).read_text(
        encoding="utf-8"
    )


_STYLE: Final = _resource("report.css")
_SCRIPT: Final = _resource("filter.js")
_SCRIPT_HASH: Final = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode()

_CSP_BASE: Final = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)
CSP_CHECK: Final = f"{_CSP_BASE}; script-src 'sha256-{_SCRIPT_HASH}'"
"""The check report's policy: no network load; only the inline filter script runs."""
CSP_CASE: Final = f"{_CSP_BASE}; script-src 'none'"
"""The case page's policy: no network load and no script at all."""


def link_target(url: str | None) -> str | None:
    """Return ``url`` when it may become a link (``http`` or ``https`` with a host), else None.

    Parameters
    ----------
    url
        A URL taken from a file or a record.

    Returns
    -------
    str or None
        The URL unchanged, or None (``javascript:``, ``data:``, ``file:``, relative, ...).

    Examples
    --------
    >>> link_target("https://example.org/a.c2pa"), link_target("javascript:alert(1)")
    ('https://example.org/a.c2pa', None)
    """
    if not url or any(ord(c) < 0x21 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


_THREADS: Final = max(1, min(4, os.cpu_count() or 1))
"""Threads that make thumbnails."""
_AHEAD: Final = 4 * _THREADS
"""Reports queued at most while their thumbnails are made."""


def _file_name(path: str) -> str:
    return PurePath(path).name or path


def _size_words(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _short_type(uri: str | None) -> str:
    if not uri:
        return ""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the reports: package templates, autoescaping everywhere.

    Returns
    -------
    jinja2.Environment
        With the filters ``filename``, ``size``, ``source_type``, ``describe`` and the
        global ``link_target``; undefined names are errors.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("provenance.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["filename"] = _file_name
    env.filters["size"] = _size_words
    env.filters["source_type"] = _short_type
    env.filters["describe"] = describe
    env.globals["link_target"] = link_target
    env.globals["style"] = Markup(_STYLE)
    env.globals["trust_only"] = TRUST_ONLY_CODES
    return env


_ENV: Final = environment()


def template(name: str) -> jinja2.Template:
    """One of the package's templates, from the shared environment."""
    return _ENV.get_template(name)


class HtmlCheckReport:
    """Streams ``verify check`` reports into one self-contained HTML page.

    Thumbnails are made on a few threads (Pillow and PyAV release the GIL while decoding),
    at most :data:`_AHEAD` reports ahead of the one being rendered; rows and details are
    rendered in input order.

    Parameters
    ----------
    stream
        Where the page goes (text, UTF-8).
    lang
        The language of every UI string.
    thumbnails
        ``full`` (default), ``blur`` or ``none``.
    generated_at
        RFC 3339 time printed in the header (default: now); pin it for reproducible output.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        lang: Lang = Lang.EN,
        thumbnails: Thumbnails = Thumbnails.FULL,
        generated_at: str | None = None,
    ) -> None:
        self.stream = stream
        self.lang = lang
        self.thumbnails = thumbnails
        self.generated_at = generated_at or utc_text()
        self.counts: Counter[Verdict] = Counter()
        self.written = 0
        self._t = messages(lang)
        self._rows: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._details: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._row = template("check_row.html.j2")
        self._detail = template("check_detail.html.j2")
        self._pool = (
            None if thumbnails is Thumbnails.NONE else ThreadPoolExecutor(max_workers=_THREADS)
        )
        self._pending: deque[tuple[Report, Future[str | None] | None]] = deque()

    def start(self, count: int) -> None:
        """Accept the number of inputs (the page counts what it is given instead)."""

    def write(self, report: Report) -> None:
        """Queue one report; its table row and detail go to the spool files in order.

        Parameters
        ----------
        report
            One file's report.
        """
        thumb: Future[str | None] | None = None
        if self._pool is not None and report.verdict is not Verdict.ERROR:
            thumb = self._pool.submit(
                file_thumbnail,
                report.subject.path,
                self.thumbnails,
                media_type=report.subject.media_type,
            )
        self._pending.append((report, thumb))
        while self._pending and (len(self._pending) > _AHEAD or _ready(self._pending[0][1])):
            self._render(*self._pending.popleft())

    def _render(self, report: Report, thumb: Future[str | None] | None) -> None:
        anchor = f"file-{self.written + 1}"
        context = {
            "r": report,
            "t": self._t,
            "anchor": anchor,
            "number": self.written + 1,
            "thumb": thumb.result() if thumb is not None else None,
            "thumbnails": self.thumbnails.value,
        }
        self._rows.write(self._row.render(context))
        self._details.write(self._detail.render(context))
        self.counts[report.verdict] += 1
        self.written += 1

    def finish(self) -> None:
        """Write the whole page to the stream and drop the spool files."""
        try:
            while self._pending:
                self._render(*self._pending.popleft())
            context: Mapping[str, Any] = {
                "t": self._t,
                "lang": self.lang.value,
                "csp": CSP_CHECK,
                "counts": [(v, self.counts[v]) for v in VERDICT_ORDER if self.counts[v]],
                "total": self.written,
                "generated_at": self.generated_at,
                "version": __version__,
                "script": Markup(_SCRIPT),
            }
            self.stream.write(template("check_head.html.j2").render(context))
            self._copy(self._rows)
            self.stream.write(template("check_middle.html.j2").render(context))
            self._copy(self._details)
            self.stream.write(template("check_tail.html.j2").render(context))
            self.stream.flush()
        finally:
            self.close()

    def _copy(self, spool: IO[str]) -> None:
        spool.seek(0)
        shutil.copyfileobj(spool, self.stream, 1 << 20)

    def close(self) -> None:
        """Stop the thumbnail threads and drop the spool files (also done by :meth:`finish`)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
        self._rows.close()
        self._details.close()


def _ready(thumb: Future[str | None] | None) -> bool:
    return thumb is None or thumb.done()


def render_check_report(
    reports: Iterable[Report],
    stream: TextIO,
    *,
    lang: Lang = Lang.EN,
    thumbnails: Thumbnails = Thumbnails.FULL,
    generated_at: str | None = None,
) -> int:
    """Render an iterable of reports as one HTML page (streamed).

    Parameters
    ----------
    reports
        An iterable of :class:`~provenance.report.Report`.
    stream
        Where the page goes.
    lang, thumbnails, generated_at
        As for :class:`HtmlCheckReport`.

    Returns
    -------
    int
        The number of reports written.
    """
    page = HtmlCheckReport(stream, lang=lang, thumbnails=thumbnails, generated_at=generated_at)
    try:
        for report in reports:
            page.write(report)
    except BaseException:
        page.close()
        raise
    page.finish()
    return page.written
