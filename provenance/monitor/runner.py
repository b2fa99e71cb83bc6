"""One pass (or a watch loop) over the monitored URLs: fetch, match, decide, keep evidence.

:func:`run` visits every URL of a case (or of every case), records each visit in the
database and hands each :class:`~provenance.monitor.model.Visit` to a callback as soon as it
is recorded. An interrupted pass keeps every visit recorded so far; a visit in flight is
dropped, never half-written.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final

from provenance.monitor.evidence import EvidenceOptions, write_evidence
from provenance.monitor.evidence import prepare as prepare_evidence
from provenance.monitor.extract import extract_media
from provenance.monitor.fetch import (
    DEFAULT_DELAY,
    DEFAULT_MAX_BYTES,
    DEFAULT_PER_HOST,
    Exchange,
    Fetched,
    Fetcher,
    HostGate,
)
from provenance.monitor.match import Matcher
from provenance.monitor.model import Match, MonitorError, Status, Visit, redact_url, utc_now
from provenance.monitor.store import MonitorStore, Target, needs_evidence

__all__ = ["RunOptions", "RunSummary", "run", "watch"]

GONE_CODES: Final = frozenset({404, 410, 451})
"""HTTP statuses that mean the content was taken down."""
MAX_HTML_BYTES: Final = 10 * 1024 * 1024
"""Only the first 10 MB of an HTML page are searched for media."""
FLUSH_EVERY: Final = 50
"""Visits written per transaction at most."""
FLUSH_SECONDS: Final = 1.0
"""A finished visit waits at most about this long before it is written."""


@dataclass(frozen=True)
class RunOptions:
    """How a pass visits URLs."""

    case: str | None = None
    """Only this case (default: every case)."""
    evidence: EvidenceOptions | None = None
    """Write evidence (WACZ) here; None: no evidence."""
    timeout: float = 30.0
    """Seconds per HTTP request."""
    max_bytes: int = DEFAULT_MAX_BYTES
    per_host: int = DEFAULT_PER_HOST
    delay: float = DEFAULT_DELAY
    """Seconds between the starts of two requests to one host."""
    wm_key: bytes | str | None = None
    """Watermark key, to match references by payload."""
    in_flight: int = 32
    """URLs visited at the same time (across hosts; each host still gets at most ``per_host``)."""


@dataclass
class RunSummary:
    """Counts of one pass."""

    visits: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def unreachable(self) -> int:
        """URLs that could not be checked this pass."""
        return self.by_status.get(Status.UNREACHABLE.value, 0)


@dataclass
class _Case:
    name: str
    matcher: Matcher
    fetcher: Fetcher
    keep_bodies: bool
    """Keep response bodies for the evidence WARC (only when evidence is asked for)."""
    cache: dict[str, tuple[str, int | None, str] | None] = field(default_factory=dict)


async def _match_media(case: _Case, fetched: Fetched) -> tuple[Match | None, str | None]:
    sha = hashlib.sha256(fetched.body).hexdigest()
    url = redact_url(fetched.final_url or fetched.url)
    if sha in case.cache:
        hit = case.cache[sha]
        return (None if hit is None else Match(url, sha, hit[0], hit[1], hit[2])), None
    loop = asyncio.get_running_loop()
    found, note = await loop.run_in_executor(None, case.matcher.match, fetched.body, url)
    if note is None:
        case.cache[sha] = None if found is None else (found.method, found.distance, found.ref)
    return found, note


async def _media_outcome(
    case: _Case, index: int, url: str
) -> tuple[int, Match | None, str | None, tuple[Exchange, ...]]:
    item = await case.fetcher.get(url)
    exchanges = item.exchanges
    if not case.keep_bodies:  # no evidence asked: let each body go as soon as it is matched
        exchanges = tuple(replace(ex, body=b"") for ex in exchanges)
    if item.status is None or not 200 <= item.status < 300:
        why = item.error or f"HTTP {item.status}"
        return index, None, f"media {redact_url(item.url)}: {why}", exchanges
    found, note = await _match_media(case, item)
    return index, found, note, exchanges


async def _page_matches(
    case: _Case, page: Fetched
) -> tuple[list[Match], list[str], list[Exchange]]:
    if page.media_type != "text/html":
        found, note = await _match_media(case, page)
        return ([found] if found else []), ([note] if note else []), []
    html = page.body[:MAX_HTML_BYTES].decode("utf-8", errors="replace")
    urls = extract_media(html, page.final_url or page.url)
    # Matched as they arrive (memory holds the files in flight, not the whole page's media),
    # reported in page order.
    outcomes = [
        await done
        for done in asyncio.as_completed([_media_outcome(case, i, u) for i, u in enumerate(urls)])
    ]
    outcomes.sort(key=lambda o: o[0])
    matches = [o[1] for o in outcomes if o[1] is not None]
    notes = [o[2] for o in outcomes if o[2] is not None]
    exchanges = [ex for o in outcomes for ex in o[3]]
    return matches, notes, exchanges


async def _visit(case: _Case, target: Target) -> tuple[Visit, list[Exchange]]:
    page = await case.fetcher.get(target.url)
    exchanges = list(page.exchanges)
    base = Visit(
        case=target.case,
        url=target.url,
        final_url=None if page.final_url is None else redact_url(page.final_url),
        status=Status.UNREACHABLE,
        http_status=page.status,
        checked_at=utc_now(),
        previous_status=target.previous_status,
        error=page.error,
    )
    if page.status is None:
        return base, exchanges
    if page.status in GONE_CODES:
        return replace(base, status=Status.GONE, error=None), exchanges
    if not 200 <= page.status < 300:
        return replace(base, error=f"HTTP {page.status}"), exchanges
    matches, notes, more = await _page_matches(case, page)
    exchanges.extend(more)
    status = Status.MATCH if matches else Status.NO_MATCH
    return replace(base, status=status, matches=tuple(matches), notes=tuple(notes)), exchanges


def _with_evidence(
    options: EvidenceOptions, target: Target, visit: Visit, ex: list[Exchange]
) -> Visit:
    outcome = visit.to_dict()
    outcome.pop("evidence")
    try:
        evidence, notes = write_evidence(options, case=target.case, exchanges=ex, outcome=outcome)
    except MonitorError as exc:
        return replace(visit, notes=visit.notes + (f"evidence not written: {exc.message}",))
    return replace(visit, evidence=evidence, notes=visit.notes + tuple(notes))


class _Recorder:
    """Writes visits in small batches (one disk sync per batch, at most ~1 s apart) and hands
    each to the callback once it is stored."""

    def __init__(self, store: MonitorStore, on_visit: Callable[[Visit], None]) -> None:
        self.store = store
        self.on_visit = on_visit
        self.pending: list[tuple[Target, Visit]] = []
        self.last = time.monotonic()

    def add(self, target: Target, visit: Visit) -> None:
        self.pending.append((target, visit))
        if len(self.pending) >= FLUSH_EVERY or time.monotonic() - self.last >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        self.last = time.monotonic()
        if batch:
            self.store.record_many(batch)
            for _, visit in batch:
                self.on_visit(visit)


async def _run_case(
    store: MonitorStore,
    options: RunOptions,
    name: str,
    gate: HostGate,
    limit: asyncio.Semaphore,
    on_visit: Callable[[Visit], None],
) -> None:
    targets = store.targets(name)
    matcher = Matcher(store.references(name), wm_key=options.wm_key)
    fetcher = Fetcher(gate=gate, timeout=options.timeout, max_bytes=options.max_bytes)
    recorder = _Recorder(store, on_visit)
    async with fetcher:
        case = _Case(name, matcher, fetcher, keep_bodies=options.evidence is not None)

        async def one(target: Target) -> None:
            async with limit:
                visit, exchanges = await _visit(case, target)
                if options.evidence is not None and needs_evidence(visit.status, target):
                    # Off the event loop, so packing a WACZ does not eat other requests' time.
                    visit = await asyncio.to_thread(
                        _with_evidence, options.evidence, target, visit, exchanges
                    )
                recorder.add(target, visit)

        try:
            await asyncio.gather(*(one(t) for t in targets))
        finally:
            recorder.flush()  # also on Ctrl-C: every finished visit is kept


async def run_async(
    store: MonitorStore,
    options: RunOptions,
    on_visit: Callable[[Visit], None] | None = None,
) -> RunSummary:
    """One pass, as a coroutine (see :func:`run`)."""
    summary = RunSummary()

    def count(visit: Visit) -> None:
        summary.visits += 1
        summary.by_status[visit.status.value] = summary.by_status.get(visit.status.value, 0) + 1
        if on_visit is not None:
            on_visit(visit)

    if options.evidence is not None:
        prepare_evidence()
    cases = [options.case] if options.case is not None else store.cases()
    gate = HostGate(per_host=options.per_host, delay=options.delay)
    limit = asyncio.Semaphore(max(1, options.in_flight))
    for name in cases:
        await _run_case(store, options, name, gate, limit, count)
    return summary


def run(
    store: MonitorStore,
    options: RunOptions,
    on_visit: Callable[[Visit], None] | None = None,
) -> RunSummary:
    """Visit every URL once (of ``options.case``, or of every case) and record each visit.

    Raises
    ------
    MonitorError
        ``unknown_case`` when ``options.case`` is not in the database.
    """
    if options.case is not None and not store.has_case(options.case):
        raise MonitorError(f"no case named {options.case!r}", code="unknown_case")
    return asyncio.run(run_async(store, options, on_visit))


def watch(
    store: MonitorStore,
    options: RunOptions,
    every: float,
    on_visit: Callable[[Visit], None] | None = None,
    *,
    passes: int | None = None,
    on_pass: Callable[[RunSummary], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Run a pass every ``every`` seconds (start to start) until interrupted or ``passes`` done.

    Ctrl-C (``KeyboardInterrupt``) propagates; every visit recorded before it stays.
    """
    done = 0
    while passes is None or done < passes:
        started = time.monotonic()
        summary = run(store, options, on_visit)
        done += 1
        if on_pass is not None:
            on_pass(summary)
        if passes is not None and done >= passes:
            return
        (sleep or time.sleep)(max(0.0, every - (time.monotonic() - started)))
