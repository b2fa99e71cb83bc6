"""Evidence of a visit: a WACZ of every request and response, an optional RFC 3161 timestamp
over its SHA-256, and an optional full-page screenshot.

The WARC (``warcio``) holds a ``warcinfo`` record, a ``request`` and ``response`` record per
HTTP exchange of the visit (the page, each redirect, each media file), a ``metadata`` record
for exchanges that failed, one ``metadata`` record with the visit's outcome (status and
matches), and the screenshot as a ``resource`` record when one was taken. The ``wacz``
package packs it with its CDXJ index, ``pages/pages.jsonl`` and a ``datapackage.json`` naming
every file with its SHA-256. Bodies are stored as received but decoded (the fetcher asks for
unencoded bodies); a ``Content-Encoding`` or ``Transfer-Encoding`` header is kept as
``X-Archive-Orig-...`` and ``Content-Length`` is set to the stored length, as web archives do.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from provenance._atomic import atomic_path
from provenance.monitor.fetch import Exchange, post_timestamp_query, user_agent
from provenance.monitor.model import Evidence, MonitorError, redact_url

__all__ = ["EvidenceOptions", "find_chromium", "prepare", "timestamp_file", "write_evidence"]

_RENAMED: Final = frozenset({"content-encoding", "transfer-encoding", "content-length"})
_SAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class EvidenceOptions:
    """Where and how evidence is written."""

    directory: Path
    """Root directory; each case gets a subdirectory."""
    tsa: str | None = None
    """RFC 3161 time-stamping authority URL, when a timestamp is wanted."""
    screenshot: bool = False
    """Take a full-page screenshot with Chromium (skipped with a note when absent)."""
    timeout: float = 30.0


def _warc_date(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _response_headers(ex: Exchange) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in ex.response_headers:
        if key.lower() in _RENAMED:
            if key.lower() != "content-length":
                out.append(("X-Archive-Orig-" + key, value))
            continue
        out.append((key, value))
    out.append(("Content-Length", str(len(ex.body))))
    return out


def _write_exchange(writer: Any, ex: Exchange) -> None:
    from warcio.statusandheaders import StatusAndHeaders  # optional extra `monitor`

    date = {"WARC-Date": _warc_date(ex.started)}
    parts = urllib.parse.urlsplit(ex.url)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    req_headers = [(k, v) for k, v in ex.request_headers]
    if not any(k.lower() == "host" for k, _ in req_headers):
        req_headers.insert(0, ("Host", parts.netloc))
    request = writer.create_warc_record(
        ex.url,
        "request",
        payload=io.BytesIO(b""),
        length=0,
        warc_headers_dict=dict(date),
        http_headers=StatusAndHeaders(
            f"GET {target} HTTP/1.1", req_headers, protocol="", is_http_request=True
        ),
    )
    if ex.status is None:
        writer.write_record(request)
        note = json.dumps({"error": ex.error}).encode()
        writer.write_record(
            writer.create_warc_record(
                ex.url,
                "metadata",
                payload=io.BytesIO(note),
                length=len(note),
                warc_content_type="application/json",
                warc_headers_dict=dict(date),
            )
        )
        return
    version = ex.http_version if ex.http_version.startswith("HTTP/") else "HTTP/1.1"
    response = writer.create_warc_record(
        ex.url,
        "response",
        payload=io.BytesIO(ex.body),
        length=len(ex.body),
        warc_headers_dict=dict(date),
        http_headers=StatusAndHeaders(
            f"{ex.status} {ex.reason}".strip(), _response_headers(ex), protocol=version
        ),
    )
    request.rec_headers.add_header("WARC-Concurrent-To", response.rec_headers["WARC-Record-ID"])
    writer.write_record(response)
    writer.write_record(request)


def _write_warc(
    path: Path,
    exchanges: Sequence[Exchange],
    outcome: dict[str, Any],
    screenshot: bytes | None,
) -> None:
    from warcio.warcwriter import WARCWriter  # optional extra `monitor`

    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="WARC/1.1")
        info = {"software": user_agent(), "format": "WARC File Format 1.1"}
        writer.write_record(writer.create_warcinfo_record(path.name, info))
        for ex in exchanges:
            _write_exchange(writer, ex)
        url = outcome["url"]
        summary = json.dumps(outcome, sort_keys=True).encode()
        writer.write_record(
            writer.create_warc_record(
                url,
                "metadata",
                payload=io.BytesIO(summary),
                length=len(summary),
                warc_content_type="application/json",
            )
        )
        if screenshot is not None:
            writer.write_record(
                writer.create_warc_record(
                    f"urn:screenshot:{url}",
                    "resource",
                    payload=io.BytesIO(screenshot),
                    length=len(screenshot),
                    warc_content_type="image/png",
                )
            )


def _quiet_wacz() -> Any:
    import wacz.main  # optional extra `monitor`
    import wacz.waczindexer  # optional extra `monitor` (its import takes ~0.4 s)

    # py-wacz reports progress with print(); silence it in its own modules only, so the
    # records on our stdout stay clean and no global stream is swapped (thread-safe).
    for module in (wacz.main, wacz.waczindexer):
        module.print = lambda *args, **kwargs: None
    return wacz.main.main


def _pack(warc: Path, out: Path, main_url: str | None, title: str) -> None:
    args = ["create", "-o", str(out), str(warc), "--title", title]
    if main_url:
        args += ["--url", main_url]
    with warnings.catch_warnings():
        # py-wacz leaves a spooled temporary file per record to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            code = _quiet_wacz()(args)
        except (ValueError, OSError) as exc:
            raise MonitorError(f"cannot write {out}: {exc}", code="evidence_failed") from None
        gc.collect()
    if code != 0:
        raise MonitorError(f"cannot write {out}: py-wacz failed", code="evidence_failed")


def prepare() -> None:
    """Import the WARC and WACZ writers now (their first import takes a moment)."""
    _quiet_wacz()


def find_chromium() -> str | None:
    """The Chromium executable, when one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _screenshot(url: str, timeout: float) -> tuple[bytes | None, str | None]:
    exe = find_chromium()
    if exe is None:
        return None, "screenshot skipped: Chromium is not installed"
    with tempfile.TemporaryDirectory(prefix="jinjja-shot-") as tmp:
        png = Path(tmp) / "shot.png"
        cmd = [
            exe,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--incognito",
            f"--user-data-dir={tmp}/profile",
            f"--user-agent={user_agent()}",
            "--window-size=1280,4000",
            f"--screenshot={png}",
            url,
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout + 30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"screenshot failed: {exc}"
        if not png.is_file():
            return None, "screenshot failed: Chromium wrote no picture"
        return png.read_bytes(), None


def timestamp_file(path: Path, sha256: str, tsa: str, *, timeout: float = 30.0) -> tuple[Path, str]:
    """Ask ``tsa`` for an RFC 3161 timestamp over ``sha256``; keep it as ``<path>.tsr``.

    Returns the token file and the TSA's time (UTC ISO 8601).

    Raises
    ------
    MonitorError
        ``tsa_failed`` when the TSA fails, refuses, or answers for another hash or nonce.
    """
    import rfc3161_client as tsp  # optional extra `monitor`

    request = (
        tsp.TimestampRequestBuilder()
        .data(path.read_bytes())
        .hash_algorithm(tsp.HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    raw = post_timestamp_query(tsa, request.as_bytes(), timeout=timeout)
    try:
        response = tsp.decode_timestamp_response(raw)
    except Exception as exc:  # the parser raises its own internal error types
        raise MonitorError(f"TSA answer cannot be read: {exc}", code="tsa_failed") from None
    if response.status not in (tsp.PKIStatus.GRANTED, tsp.PKIStatus.GRANTED_WITH_MODS):
        raise MonitorError(f"TSA refused: status {response.status}", code="tsa_failed")
    info = response.tst_info
    if info.message_imprint.message.hex() != sha256 or info.nonce != request.nonce:
        raise MonitorError("TSA answered for another hash or nonce", code="tsa_failed")
    token = path.with_name(path.name + ".tsr")
    token.write_bytes(raw)
    gen = info.gen_time
    if gen.tzinfo is None:
        gen = gen.replace(tzinfo=dt.UTC)
    return token, gen.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _file_name(case: str, url: str, checked_at: str) -> str:
    host = urllib.parse.urlsplit(url).hostname or "host"
    stamp = re.sub(r"[^0-9]", "", checked_at)[:20]
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return f"{stamp}-{_SAFE.sub('_', host)}-{digest}.wacz"


def write_evidence(
    options: EvidenceOptions,
    *,
    case: str,
    exchanges: Sequence[Exchange],
    outcome: dict[str, Any],
) -> tuple[Evidence, list[str]]:
    """Write the WACZ of one visit (and its timestamp and screenshot); return it and notes.

    ``outcome`` is the visit's record without evidence (``url``, ``status``, ``matches``, ...).

    Raises
    ------
    MonitorError
        ``evidence_failed`` when the files cannot be written; ``tsa_failed`` (see
        :func:`timestamp_file`).
    """
    notes: list[str] = []
    folder = options.directory / _SAFE.sub("_", case)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MonitorError(
            f"cannot create {folder}: {exc.strerror}", code="evidence_failed"
        ) from None
    out = folder / _file_name(case, outcome["url"], outcome["checked_at"])
    shot: bytes | None = None
    if options.screenshot:
        shot, note = _screenshot(outcome["final_url"] or outcome["url"], options.timeout)
        if note:
            notes.append(note)
    main_url = next((ex.url for ex in exchanges if ex.status is not None), None)
    with tempfile.TemporaryDirectory(prefix="jinjja-warc-", dir=folder) as tmp:
        warc = Path(tmp) / (out.stem + ".warc.gz")
        _write_warc(warc, exchanges, outcome, shot)
        with atomic_path(out) as packed:
            _pack(warc, packed, main_url, f"{case}: {outcome['url']}")
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    shot_path = None
    if shot is not None:
        shot_path = out.with_suffix(".png")
        shot_path.write_bytes(shot)
    if options.tsa is None:
        return Evidence(
            str(out), sha, screenshot=None if shot_path is None else str(shot_path)
        ), notes
    token, when = timestamp_file(out, sha, options.tsa, timeout=options.timeout)
    return (
        Evidence(
            str(out),
            sha,
            when,
            str(token),
            redact_url(options.tsa),
            None if shot_path is None else str(shot_path),
        ),
        notes,
    )
