"""The only module of the monitor that touches the network.

:class:`Fetcher` GETs one URL with ``httpx``: it follows at most 5 redirects itself (so every
request and response is kept for the evidence WARC), sends an honest User-Agent
(``jinjja/<version>``), asks for unencoded bodies, stops reading a body over the size limit,
and sniffs the media type from the bytes instead of trusting ``Content-Type``. A
:class:`HostGate` shared by all fetchers of a run keeps at most 2 requests at a time per host
and a delay between the starts of two requests to one host. Each case gets its own fetcher,
so cookies are never kept between cases.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import time
import urllib.parse
from dataclasses import dataclass, field
from importlib import metadata
from typing import Final

import httpx

from provenance.media.inspect import sniff_media_type
from provenance.monitor.extract import looks_like_html
from provenance.monitor.model import MonitorError, redact_url

__all__ = [
    "DEFAULT_DELAY",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_PER_HOST",
    "Exchange",
    "Fetched",
    "Fetcher",
    "HostGate",
    "MAX_REDIRECTS",
    "post_timestamp_query",
    "sniff",
    "user_agent",
]

MAX_REDIRECTS: Final = 5
"""Redirects followed per URL."""
DEFAULT_MAX_BYTES: Final = 100 * 1024 * 1024
"""Largest response body read (100 MB)."""
DEFAULT_PER_HOST: Final = 2
"""Requests at a time to one host."""
DEFAULT_DELAY: Final = 1.0
"""Seconds between the starts of two requests to one host."""
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def user_agent() -> str:
    """``jinjja/<version> (+https://github.com/jinjja; takedown monitoring)``."""
    try:
        version = metadata.version("jinjja")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"jinjja/{version} (takedown monitoring; verify monitor)"


@dataclass(frozen=True)
class Exchange:
    """One request and its response (or the error instead of a response), for the WARC."""

    url: str
    started: dt.datetime
    request_headers: tuple[tuple[str, str], ...]
    status: int | None = None
    reason: str = ""
    http_version: str = "HTTP/1.1"
    response_headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    error: str | None = None


@dataclass(frozen=True)
class Fetched:
    """The outcome of fetching one URL (after redirects)."""

    url: str
    final_url: str | None
    status: int | None
    """HTTP status of the last response; None when nothing answered."""
    body: bytes = b""
    media_type: str | None = None
    """Sniffed: a picture/video type, ``text/html``, or None."""
    exchanges: tuple[Exchange, ...] = ()
    error: str | None = None
    """One line when no usable response came (network error, too large, too many redirects)."""


@dataclass
class HostGate:
    """Politeness shared by every fetch of a run: concurrency and spacing per host."""

    per_host: int = DEFAULT_PER_HOST
    delay: float = DEFAULT_DELAY
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _next: dict[str, float] = field(default_factory=dict)

    def slot(self, host: str) -> asyncio.Semaphore:
        """The semaphore of a host."""
        if host not in self._slots:
            self._slots[host] = asyncio.Semaphore(self.per_host)
        return self._slots[host]

    async def wait_turn(self, host: str) -> None:
        """Sleep until ``delay`` seconds after the previous start for this host."""
        now = time.monotonic()
        start = max(now, self._next.get(host, now))
        self._next[host] = start + self.delay
        if start > now:
            await asyncio.sleep(start - now)


def sniff(body: bytes) -> str | None:
    """The media type of a body from its bytes (pictures, video, HTML), else None."""
    found = sniff_media_type(body[:4096])
    if found is not None:
        return found
    return "text/html" if looks_like_html(body) else None


def _data_url(url: str) -> Fetched:
    head, _, payload = url.partition(",")
    try:
        body = (
            base64.b64decode(payload, validate=False)
            if head.lower().endswith(";base64")
            else urllib.parse.unquote_to_bytes(payload)
        )
    except (binascii.Error, ValueError):
        return Fetched(url[:64], None, None, error="malformed data: URL")
    short = url[:48] + "..." if len(url) > 48 else url
    return Fetched(short, short, 200, body, sniff(body))


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
        return f"timed out after {timeout:g} s"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if "ssl" in text.lower() or "certificate" in text.lower():
            return f"TLS error: {text}"
        return f"connection failed: {text}"
    return f"{type(exc).__name__}: {text}"


class Fetcher:
    """GET URLs politely; one instance per case (its cookie jar dies with it).

    Use as an async context manager::

        async with Fetcher(gate=HostGate()) as f:
            fetched = await f.get("https://example.org/post/1")
    """

    def __init__(
        self,
        *,
        gate: HostGate | None = None,
        timeout: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        verify_tls: bool = True,
    ) -> None:
        self.gate = gate or HostGate()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent(), "Accept-Encoding": "identity", "Accept": "*/*"},
            transport=transport,
            verify=verify_tls,
            trust_env=False,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def get(self, url: str) -> Fetched:
        """Fetch ``url`` following up to :data:`MAX_REDIRECTS` redirects; never raises for
        network problems (they come back as ``error``)."""
        if url.lower().startswith("data:"):
            return _data_url(url)
        exchanges: list[Exchange] = []
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            ex = await self._one(current)
            exchanges.append(ex)
            if ex.error is not None or ex.status is None:
                return Fetched(url, None, None, exchanges=tuple(exchanges), error=ex.error)
            location = dict((k.lower(), v) for k, v in ex.response_headers).get("location")
            if ex.status not in _REDIRECTS or not location:
                return Fetched(url, current, ex.status, ex.body, sniff(ex.body), tuple(exchanges))
            current = urllib.parse.urljoin(current, location.strip())
            if urllib.parse.urlsplit(current).scheme.lower() not in ("http", "https"):
                error = f"redirected to a URL that is not http(s): {redact_url(current)}"
                return Fetched(url, None, None, exchanges=tuple(exchanges), error=error)
        error = f"more than {MAX_REDIRECTS} redirects"
        return Fetched(url, None, None, exchanges=tuple(exchanges), error=error)

    async def _one(self, url: str) -> Exchange:
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        async with self.gate.slot(host):
            await self.gate.wait_turn(host)
            started = dt.datetime.now(dt.UTC)
            try:
                return await asyncio.wait_for(self._request(url, started), self.timeout)
            except (TimeoutError, httpx.HTTPError, OSError, ValueError) as exc:
                headers = tuple(self._client.headers.items())
                return Exchange(url, started, headers, error=_describe(exc, self.timeout))

    async def _request(self, url: str, started: dt.datetime) -> Exchange:
        request = self._client.build_request("GET", url)
        response = await self._client.send(request, stream=True)
        try:
            body = await self._read(response)
        finally:
            await response.aclose()
        return Exchange(
            url=url,
            started=started,
            request_headers=tuple(request.headers.items()),
            status=response.status_code,
            reason=response.reason_phrase,
            http_version=response.http_version,
            response_headers=tuple(response.headers.items()),
            body=body,
        )

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ValueError(f"response larger than the {self.max_bytes} byte limit")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise ValueError(f"response larger than the {self.max_bytes} byte limit")
            chunks.append(chunk)
        return b"".join(chunks)


def post_timestamp_query(tsa_url: str, query: bytes, *, timeout: float = 30.0) -> bytes:
    """POST an RFC 3161 ``TimeStampReq`` to a time-stamping authority; return its answer.

    Raises
    ------
    MonitorError
        ``tsa_failed`` when the TSA cannot be reached or does not answer 200.
    """
    headers = {"Content-Type": "application/timestamp-query", "User-Agent": user_agent()}
    try:
        response = httpx.post(tsa_url, content=query, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise MonitorError(
            f"TSA {redact_url(tsa_url)}: {_describe(exc, timeout)}", code="tsa_failed"
        ) from None
    if response.status_code != 200:
        raise MonitorError(
            f"TSA {redact_url(tsa_url)} answered HTTP {response.status_code}", code="tsa_failed"
        )
    return response.content
