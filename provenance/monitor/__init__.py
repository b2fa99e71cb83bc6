"""Takedown monitoring: watch URLs where known pictures or videos were posted.

Needs the ``monitor`` extra (httpx, warcio, wacz, jinja2, rfc3161-client). Typical use::

    from provenance.monitor import MonitorStore, RunOptions, fingerprint_file, run

    with MonitorStore.open("cases.db", create=True) as db:
        db.add("case-1", ["https://example.org/post/1"], [fingerprint_file("original.jpg")])
        run(db, RunOptions(case="case-1"), on_visit=lambda v: print(v.to_dict()))
        for row in db.status("case-1"):
            print(row.url, row.last_status, row.gone_since, len(row.timeline))
"""

from provenance.monitor.evidence import EvidenceOptions, write_evidence
from provenance.monitor.extract import extract_media
from provenance.monitor.fetch import Fetched, Fetcher, HostGate, user_agent
from provenance.monitor.match import Matcher, Reference, fingerprint_bytes, fingerprint_file
from provenance.monitor.model import (
    Evidence,
    Match,
    MonitorError,
    RequestState,
    Status,
    UrlStatus,
    Visit,
    check_url,
    parse_duration,
    redact_url,
)
from provenance.monitor.runner import RunOptions, RunSummary, run, watch
from provenance.monitor.store import Added, MonitorStore, status_rows

__all__ = [
    "Added",
    "Evidence",
    "EvidenceOptions",
    "Fetched",
    "Fetcher",
    "HostGate",
    "Match",
    "Matcher",
    "MonitorError",
    "MonitorStore",
    "Reference",
    "RequestState",
    "RunOptions",
    "RunSummary",
    "Status",
    "UrlStatus",
    "Visit",
    "check_url",
    "extract_media",
    "fingerprint_bytes",
    "fingerprint_file",
    "parse_duration",
    "redact_url",
    "run",
    "status_rows",
    "user_agent",
    "watch",
    "write_evidence",
]
