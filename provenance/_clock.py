"""The one clock of the library: the current UTC time and its RFC 3339 text.

Every timestamp the library writes (reports' ``analyzed_at``, bank and repository rows,
trust-store manifests) is whole seconds in UTC with a ``Z`` suffix.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["utc_now", "utc_text"]


def utc_now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def utc_text(when: dt.datetime | None = None, *, micro: bool = False) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` of a moment (default now); naive datetimes are taken as UTC.

    Parameters
    ----------
    when
        The moment, or None for now.
    micro
        Keep microseconds (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), for ordering events.

    Returns
    -------
    str
        Whole seconds in UTC.

    Examples
    --------
    >>> utc_text(dt.datetime(2026, 1, 2, 12, 4, 5, 999, tzinfo=dt.timezone(dt.timedelta(hours=9))))
    '2026-01-02T03:04:05Z'
    >>> utc_text(dt.datetime(2026, 1, 2, 3, 4, 5))
    '2026-01-02T03:04:05Z'
    >>> utc_text(dt.datetime(2026, 1, 2, 3, 4, 5, 7), micro=True)
    '2026-01-02T03:04:05.000007Z'
    """
    moment = when if when is not None else utc_now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ"
    return moment.astimezone(dt.UTC).strftime(pattern)
